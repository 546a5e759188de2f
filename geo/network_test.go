package geo

import (
	"net/netip"
	"testing"
)

func TestParseNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8":          "10.0.0.0/8",
		" 2001:db8::/32 ":     "2001:db8::/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8", // clients are matched unmapped
	} {
		if got, err := ParseNetwork(in); err != nil || got != netip.MustParsePrefix(want) {
			t.Errorf("ParseNetwork(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                    "a CIDR prefix is required",
		"10.0.0/8":            `"10.0.0/8" is not a CIDR prefix such as 192.0.2.0/24`,
		"10.1.2.3/8":          `"10.1.2.3/8" has host bits set; did you mean 10.0.0.0/8?`,
		"::ffff:10.1.0.0/104": `"::ffff:10.1.0.0/104" has host bits set; did you mean ::ffff:10.0.0.0/104?`,
	} {
		if got, err := ParseNetwork(in); err == nil || err.Error() != want {
			t.Errorf("ParseNetwork(%q) = %v, %v; want error %s", in, got, err, want)
		}
	}
}
