package kube

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// checkName checks a canonical host name: gslb's rule for names
// (gslb.CheckName: RFC 1035 lengths), and host-name characters only
// (letters, digits, hyphen, underscore; '*' is left for the callers that
// refuse wildcards to name), which is what Kubernetes objects carry.
func checkName(n string) error {
	if n == "." {
		return errors.New("a host name is required")
	}
	if err := gslb.CheckName(n); err != nil {
		return err
	}
	for _, r := range strings.TrimSuffix(n, ".") {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '*' || r == '.') {
			return fmt.Errorf("%q has a character that does not belong in a host name", n)
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
