package config

import (
	"testing"
)

// TestSiteBiasLoads: sites[].bias reaches the State's site, and an
// absent bias is 0 (no bias).
func TestSiteBiasLoads(t *testing.T) {
	path := fixtureDir(t, replace(t, "  - name: eu-west\n", "  - name: eu-west\n    bias: 50\n"))
	l, err := Load(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range l.State.Sites {
		want := 0
		if s.Name == "eu-west" {
			want = 50
		}
		if s.Bias != want {
			t.Errorf("site %s: bias %d, want %d", s.Name, s.Bias, want)
		}
	}
	for _, b := range []string{"-99", "99"} {
		path := fixtureDir(t, replace(t, "  - name: eu-west\n", "  - name: eu-west\n    bias: "+b+"\n"))
		if _, err := Load(Options{File: path}); err != nil {
			t.Errorf("bias %s: %v", b, err)
		}
	}
}
