package kube

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// checkName checks a canonical DNS name: RFC 1035 lengths and host-name
// characters (letters, digits, hyphen, underscore).
func checkName(n string) error {
	switch {
	case n == "" || n == ".":
		return errors.New("a host name is required")
	case !strings.HasSuffix(n, "."):
		return fmt.Errorf("%q is not fully qualified", n)
	case len(n) > 254:
		return fmt.Errorf("%q is longer than 253 characters", n)
	}
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q has an empty label or one longer than 63 characters", n)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '*') {
				return fmt.Errorf("%q has a character that does not belong in a host name", n)
			}
		}
	}
	return nil
}

// zoneFor returns the longest configured zone that holds name, or "".
func zoneFor(name string, zones []string) string {
	best := ""
	for _, z := range zones {
		if gslb.InZone(name, z) && len(z) > len(best) {
			best = z
		}
	}
	return best
}
