package kube

import (
	"strings"
	"testing"
)

// A host name passes gslb's rule for names and holds host-name
// characters only.
func TestCheckName(t *testing.T) {
	for n, want := range map[string]string{
		"app.gslb.example.":        "",
		"_svc.app-1.gslb.example.": "",
		".":                        "a host name is required",
		"":                         "a domain name is required",
		"app.gslb.example":         "not fully qualified",
		"a..gslb.example.":         "empty label",
		strings.Repeat("a", 64) + ".gslb.example.":  "label longer than 63",
		strings.Repeat("a.", 128) + "gslb.example.": "longer than 255",
		"app!.gslb.example.":                        "does not belong in a host name",
		"app.gslb.example\x00.":                     "does not belong in a host name",
	} {
		err := checkName(n)
		switch {
		case want == "" && err != nil:
			t.Errorf("checkName(%q) = %v, want nil", n, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("checkName(%q) = %v, want an error containing %q", n, err, want)
		}
	}
}
