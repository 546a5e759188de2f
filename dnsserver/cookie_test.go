package dnsserver_test

import (
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// withCookie adds an OPT with a COOKIE option (hex) to m.
func withCookie(cookie string) func(*dns.Msg) {
	return func(m *dns.Msg) {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: cookie})
		m.Extra = append(m.Extra, o)
	}
}

// cookieOf is the COOKIE option of r, "" when none.
func cookieOf(r *dns.Msg) string {
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if c, ok := opt.(*dns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
	}
	return ""
}

func udpFrom(t *testing.T, src, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return nil
	}
	return r
}

// DNS cookies (RFC 7873, RFC 9018 server cookies): a client cookie gets a
// server cookie back; sites sharing a secret accept each other's; a
// malformed option is FORMERR; under RRL a valid cookie is exempt and a
// client with a bad one gets BADCOOKIE with a fresh one on the slip.
func TestCookies(t *testing.T) {
	secret := [dnsserver.CookieSecretLength]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	rotated := [dnsserver.CookieSecretLength]byte{16, 15, 14}
	rrl := dnsserver.RRLConfig{ResponsesPerSecond: 1, Window: 1, Slip: 1}
	_, a := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) {
		c.CookieSecrets, c.RRL = [][dnsserver.CookieSecretLength]byte{secret}, rrl
	})
	_, b := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) {
		c.CookieSecrets, c.RRL = [][dnsserver.CookieSecretLength]byte{rotated, secret}, rrl // rotating: the old one still accepted
	})
	_, other := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) { c.RRL = rrl })
	const client = "0102030405060708"

	// The server cookie binds the client's address: ask from the one
	// that floods below.
	r := udpFrom(t, "127.0.5.1", a, query("app.gslb.example.", dns.TypeA, withCookie(client)))
	if r == nil {
		t.Fatal("no answer to a first query with a client cookie")
	}
	got := cookieOf(r)
	if len(got) != 2*(8+16) || got[:16] != client || got[16:18] != "01" {
		t.Fatalf("server cookie %q: want the client cookie, then version 1 and 15 more bytes", got)
	}

	// Flood from one address: with the cookie every query is answered
	// at both sites (b knows a's secret as its second); at a site with
	// another secret the cookie does not count.
	for _, tc := range []struct {
		addr, name string
		exempt     bool
	}{{a, "the site that made it", true}, {b, "a site with the old secret second", true}, {other, "a site with another secret", false}} {
		answered := 0
		for range 10 {
			if r := udpFrom(t, "127.0.5.1", tc.addr, query("app.gslb.example.", dns.TypeA, withCookie(got))); r != nil && len(r.Answer) > 0 {
				answered++
			}
		}
		if exempt := answered == 10; exempt != tc.exempt {
			t.Errorf("%s: %d of 10 answered over the rate with the cookie; exempt %v, want %v", tc.name, answered, exempt, tc.exempt)
		}
	}

	// A bad server cookie under the limit: BADCOOKIE with a fresh cookie
	// (slip 1), which then works.
	bad := client + "01000000" + "00000000" + "0000000000000000"
	var fresh string
	for range 5 {
		r := udpFrom(t, "127.0.6.1", a, query("app.gslb.example.", dns.TypeA, withCookie(bad)))
		if r != nil && r.Rcode == dns.RcodeBadCookie {
			fresh = cookieOf(r)
			break
		}
	}
	if len(fresh) != 48 || fresh[:16] != client {
		t.Fatalf("no BADCOOKIE with a fresh cookie over the rate (got %q)", fresh)
	}
	if r := udpFrom(t, "127.0.6.1", a, query("app.gslb.example.", dns.TypeA, withCookie(fresh))); r == nil || len(r.Answer) == 0 {
		t.Errorf("the fresh cookie from BADCOOKIE is not accepted: %v", r)
	}

	// Malformed (RFC 7873 section 5.2.2): 5 bytes, a server cookie of 4,
	// or one of 33.
	for _, c := range []string{"0102030405", client + "01020304", client + hex.EncodeToString(make([]byte, 33))} {
		r := exchange(t, "udp", a, query("app.gslb.example.", dns.TypeA, withCookie(c)))
		if r.Rcode != dns.RcodeFormatError {
			t.Errorf("cookie %q: %s, want FORMERR", c, dns.RcodeToString[r.Rcode])
		}
	}
}
