package config

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/geo"
)

// The dns section's protections: response rate limiting (dns.rrl), the
// TSIG keys that may sign queries and the DNS cookie secrets, checked and
// handed to the DNS server.

// checkTSIGKeys checks dns.tsig_keys, each by the key rule and reading
// its secret, and refuses a name given twice.
func checkTSIGKeys(p *problems, keys []TSIGConfig) {
	seen := map[string]bool{}
	for i := range keys {
		k := &keys[i]
		path := fmt.Sprintf("dns.tsig_keys[%d]", i)
		k.check(path, p)
		if n := strings.ToLower(strings.TrimSuffix(k.Name, ".")); n != "" && seen[n] {
			p.add(path+".name", "%q is given twice", k.Name)
		} else {
			seen[n] = true
		}
	}
}

// checkRRL checks dns.rrl.
func checkRRL(p *problems, r *RRLConfig) {
	if r.ResponsesPerSecond < 0 {
		p.add("dns.rrl.responses_per_second", "must not be negative (0 is off), got %d", r.ResponsesPerSecond)
	}
	if r.Window < 0 || r.Window > 3600 {
		p.add("dns.rrl.window", "want 1 to 3600 seconds (0: the default %d), got %d", dnsserver.DefaultRRLWindow, r.Window)
	}
	if r.Slip != nil && (*r.Slip < 0 || *r.Slip > 10) {
		p.add("dns.rrl.slip", "want 0 (drop every limited response) to 10, got %d", *r.Slip)
	}
	if r.IPv4Prefix < 0 || r.IPv4Prefix > 32 {
		p.add("dns.rrl.ipv4_prefix", "want 1 to 32 (0: the default %d), got %d", dnsserver.DefaultRRLIPv4Prefix, r.IPv4Prefix)
	}
	if r.IPv6Prefix < 0 || r.IPv6Prefix > 128 {
		p.add("dns.rrl.ipv6_prefix", "want 1 to 128 (0: the default %d), got %d", dnsserver.DefaultRRLIPv6Prefix, r.IPv6Prefix)
	}
	for i, e := range r.Exempt {
		if _, err := parseExempt(e); err != nil {
			p.add(fmt.Sprintf("dns.rrl.exempt[%d]", i), "%v", err)
		}
	}
}

// parseExempt reads an exempt client network by the rule every client
// network follows (geo.ParseNetwork: no host bits, IPv4-mapped prefixes
// unmapped, since clients are matched unmapped); a bare address is its
// own network.
func parseExempt(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		s = netip.PrefixFrom(a, a.BitLen()).String()
	} else if _, err := netip.ParsePrefix(s); err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a network (CIDR) nor an address", s)
	}
	return geo.ParseNetwork(s)
}

// DNSRRL is dns.rrl as the DNS server takes it (checked by checkRRL).
func (r *RRLConfig) DNSRRL() dnsserver.RRLConfig {
	out := dnsserver.RRLConfig{
		ResponsesPerSecond: r.ResponsesPerSecond, Window: r.Window, Slip: dnsserver.DefaultRRLSlip,
		IPv4Prefix: r.IPv4Prefix, IPv6Prefix: r.IPv6Prefix,
	}
	if r.Slip != nil {
		out.Slip = *r.Slip
	}
	for _, e := range r.Exempt {
		if pfx, err := parseExempt(e); err == nil {
			out.Exempt = append(out.Exempt, pfx)
		}
	}
	return out
}

// dnsTSIGKeys are dns.tsig_keys as the DNS server takes them (checked:
// every secret read).
func dnsTSIGKeys(keys []TSIGConfig) []dnsserver.TSIGKey {
	var out []dnsserver.TSIGKey
	for _, k := range keys {
		if k.secret != nil {
			out = append(out, k.key())
		}
	}
	return out
}

// readCookieSecrets reads dns.cookie_secret_file: one secret per line,
// 32 hex digits (16 bytes, SipHash-2-4's key), the first making cookies,
// the others still accepted (rotation). Blank lines and # comments are
// skipped; the error never quotes a line (it may be a secret).
func (d *DNSConfig) readCookieSecrets(p *problems) {
	const field = "dns.cookie_secret_file"
	d.cookieSecrets = nil
	var list [][dnsserver.CookieSecretLength]byte
	if d.CookieSecretFile == "" {
		return
	}
	b, ok := p.readFile(field, d.CookieSecretFile)
	if !ok {
		return
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		raw, err := hex.DecodeString(line)
		if err != nil || len(raw) != dnsserver.CookieSecretLength {
			p.add(field, "%s line %d: want %d bytes in hex (%d digits; `openssl rand -hex %d` makes one)", d.CookieSecretFile, i+1, dnsserver.CookieSecretLength, 2*dnsserver.CookieSecretLength, dnsserver.CookieSecretLength)
			return
		}
		list = append(list, [dnsserver.CookieSecretLength]byte(raw))
	}
	if len(list) == 0 {
		p.add(field, "%s holds no secret", d.CookieSecretFile)
		return
	}
	d.cookieSecrets = &cookieSecrets{list}
}

// secrets is the list, nil when none is configured.
func (c *cookieSecrets) secrets() [][dnsserver.CookieSecretLength]byte {
	if c == nil {
		return nil
	}
	return c.list
}
