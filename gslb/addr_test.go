package gslb

import (
	"net/netip"
	"testing"
)

func TestParseAddr(t *testing.T) {
	if a, err := ParseAddr(" 2001:db8::1 "); err != nil || a != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("ParseAddr = %v, %v", a, err)
	}
	for in, want := range map[string]string{
		"192.0.2":      `"192.0.2" is not an IP address`,
		"fe80::1%eth0": `"fe80::1%eth0" has a zone; use a plain address`,
	} {
		if _, err := ParseAddr(in); err == nil || err.Error() != want {
			t.Errorf("ParseAddr(%q) error %v, want %s", in, err, want)
		}
	}
}

func TestCheckProbeAddress(t *testing.T) {
	for in, ok := range map[string]bool{"192.0.2.1": true, "::1": true, "0.0.0.0": false, "::": false, "224.0.0.1": false, "ff02::1": false} {
		if err := CheckProbeAddress(netip.MustParseAddr(in)); (err == nil) != ok {
			t.Errorf("CheckProbeAddress(%s) = %v, want ok=%v", in, err, ok)
		}
	}
}
