package geo

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseNetwork reads a client network written as a CIDR prefix: a geo
// rule's, a topology rule's (in the file or a Kubernetes policy). Every
// place that reads one calls it, so each is held to one rule:
//
//   - host bits must be zero: "10.1.2.3/8" is more likely a typo than a
//     way to write 10.0.0.0/8 (CheckNetwork);
//   - an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) comes back as the
//     IPv4 network (10.0.0.0/8): clients are matched unmapped, so the
//     mapped form would never match.
//
// Its errors are messages without a field path: the caller knows where
// the text was written.
func ParseNetwork(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("a CIDR prefix is required")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as 192.0.2.0/24", s)
	}
	if err := CheckNetwork(p); err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

// CheckNetwork refuses a prefix with host bits set, naming the network
// that was probably meant.
func CheckNetwork(p netip.Prefix) error {
	if p != p.Masked() {
		return fmt.Errorf("%q has host bits set; did you mean %s?", p.String(), p.Masked())
	}
	return nil
}
