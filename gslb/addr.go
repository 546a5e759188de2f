package gslb

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseAddr reads an IP address as a configuration file or a Kubernetes
// policy writes it: a plain address. An IPv6 zone ("fe80::1%eth0") names
// an interface of one host, meaningless in an answer or at another site,
// so it is refused. Its errors are messages without a field path.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%q has a zone; use a plain address", s)
	}
	return a, nil
}

// CheckProbeAddress refuses a member's probe address that cannot be
// probed: the unspecified address and multicast ones.
func CheckProbeAddress(a netip.Addr) error {
	if a.IsUnspecified() || a.IsMulticast() {
		return fmt.Errorf("%s cannot be probed: want a unicast address", a)
	}
	return nil
}
