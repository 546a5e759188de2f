package dnsserver_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// RFC 8945: a query signed with the server's key is answered signed (the
// client verifies it); an unknown key is BADKEY and a wrong secret BADSIG,
// both NOTAUTH and unsigned; a clock outside the fudge is BADTIME, signed.
func TestTSIG(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	other := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) {
		c.TSIGKeys = []dnsserver.TSIGKey{{Name: "monitor.example.", Algorithm: "hmac-sha256", Secret: secret}}
	})
	ask := func(netw, key, alg, secret string, at time.Time, q *dns.Msg) (*dns.Msg, error) {
		q.SetTsig(key, alg, 300, at.Unix())
		c := &dns.Client{Net: netw, Timeout: 2 * time.Second, TsigSecret: map[string]string{key: secret}}
		r, _, err := c.Exchange(q, addr)
		return r, err
	}
	for _, netw := range transports {
		// Signed and verified: miekg/dns checks the response's MAC
		// against the request's (an error if unsigned or wrong).
		r, err := ask(netw, "monitor.example.", dns.HmacSHA256, secret, time.Now(), query("app.gslb.example.", dns.TypeA, edns(1232, false)))
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || r.IsTsig() == nil || r.IsTsig().Error != 0 {
			t.Errorf("%s: a signed query: %v %v", netw, err, r)
		}
		// Also NXDOMAIN, and a query without EDNS.
		if r, err := ask(netw, "MONITOR.example.", dns.HmacSHA256, secret, time.Now(), query("nope.gslb.example.", dns.TypeA)); err != nil || r.Rcode != dns.RcodeNameError || r.IsTsig() == nil {
			t.Errorf("%s: a signed query for a missing name: %v %v", netw, err, r)
		}
	}
	// The error responses carry TSIG records miekg/dns would refuse to
	// verify (no MAC), so they are read raw.
	raw := func(key, alg, secret string, at time.Time) *dns.Msg {
		t.Helper()
		q := query("app.gslb.example.", dns.TypeA)
		q.SetTsig(key, alg, 300, at.Unix())
		wire, _, err := dns.TsigGenerate(q, secret, "", false)
		if err != nil {
			t.Fatal(err)
		}
		r := sendRaw(t, "udp", addr, wire, time.Second)
		m := new(dns.Msg)
		if err := m.Unpack(r); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name, key, alg, secret string
		at                     time.Time
		code                   uint16
		signed                 bool
	}{
		{"unknown key", "stranger.example.", dns.HmacSHA256, secret, time.Now(), dns.RcodeBadKey, false},
		{"known name, other algorithm", "monitor.example.", dns.HmacSHA512, secret, time.Now(), dns.RcodeBadKey, false},
		{"wrong secret", "monitor.example.", dns.HmacSHA256, other, time.Now(), dns.RcodeBadSig, false},
		{"an hour early", "monitor.example.", dns.HmacSHA256, secret, time.Now().Add(-time.Hour), dns.RcodeBadTime, true},
	} {
		m := raw(tc.key, tc.alg, tc.secret, tc.at)
		ts := m.IsTsig()
		if m.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != tc.code || (ts.MACSize > 0) != tc.signed || len(m.Answer) != 0 {
			t.Errorf("%s: %s, TSIG %v, want NOTAUTH %s signed=%v", tc.name, dns.RcodeToString[m.Rcode], ts, dns.RcodeToString[int(tc.code)], tc.signed)
			continue
		}
		if tc.code == dns.RcodeBadTime && (ts.OtherLen != 6 || ts.TimeSigned != uint64(tc.at.Unix())) {
			t.Errorf("BADTIME: other data %q (len %d), time signed %d; want the server's time, and the request's time", ts.OtherData, ts.OtherLen, ts.TimeSigned)
		}
		if !strings.EqualFold(ts.Hdr.Name, tc.key) {
			t.Errorf("%s: the TSIG names %s, want the request's key %s", tc.name, ts.Hdr.Name, tc.key)
		}
	}
}

// The key rules shared by the server's keys and the delegation's.
func TestParseTSIGSecretAndAlgorithm(t *testing.T) {
	const secret = "kJ1p4ZZlS2s9xQy3pA9CkCZG5nEJq1H6vF8c3oSxVgI="
	for _, text := range []string{
		secret + "\n",
		"key \"gslb-update\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + secret + "\";\n};\n",                                           // tsig-keygen
		"# hmac-sha256:gslb-update:" + secret + "\nkey:\n  - id: gslb-update\n    algorithm: hmac-sha256\n    secret: " + secret + "\n", // keymgr -t
	} {
		got, err := dnsserver.ParseTSIGSecret(text)
		if err != nil || got != secret {
			t.Errorf("ParseTSIGSecret(%q) = %q, %v", text, got, err)
		}
	}
	for _, text := range []string{"", "not base64!", "c2hvcnQ="} {
		got, err := dnsserver.ParseTSIGSecret(text)
		if err == nil {
			t.Errorf("ParseTSIGSecret(%q) = %q, want an error", text, got)
		} else if text != "" && strings.Contains(err.Error(), text) {
			t.Errorf("the error quotes the file: %v", err)
		}
	}
	for in, want := range map[string]string{"": "hmac-sha256", "HMAC-SHA512.": "hmac-sha512", "hmac-sha384": "hmac-sha384"} {
		if got, err := dnsserver.ParseTSIGAlgorithm(in); err != nil || got != want {
			t.Errorf("ParseTSIGAlgorithm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := dnsserver.ParseTSIGAlgorithm("hmac-md5"); err == nil || !strings.Contains(err.Error(), "hmac-sha256, hmac-sha384, hmac-sha512") {
		t.Errorf("hmac-md5: %v", err)
	}
}
