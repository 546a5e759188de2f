package delegation

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const zone = "gslb.example.com."

func ns(name string, addrs ...string) NameServer {
	n := NameServer{Name: name}
	for _, a := range addrs {
		n.Addrs = append(n.Addrs, netip.MustParseAddr(a))
	}
	return n
}

func glue(name, addr string) Glue { return Glue{name, netip.MustParseAddr(addr)} }

func TestCompute(t *testing.T) {
	ns1 := "ns1.gslb.example.com."
	ns2 := "ns2.gslb.example.com."
	ext := "ns.other.example."
	for _, tc := range []struct {
		name       string
		want, have Delegation
		diff       Diff
		lines      []string
	}{
		{
			name: "in sync",
			want: Delegation{[]NameServer{ns(ns1, "192.0.2.1"), ns(ext)}},
			have: Delegation{[]NameServer{ns(ext), ns("NS1.GSLB.example.com", "192.0.2.1")}},
			diff: Diff{Zone: zone},
		},
		{
			name:  "a site's name server joins",
			want:  Delegation{[]NameServer{ns(ns1, "192.0.2.1"), ns(ns2, "192.0.2.2", "2001:db8::2")}},
			have:  Delegation{[]NameServer{ns(ns1, "192.0.2.1")}},
			diff:  Diff{Zone: zone, AddNS: []string{ns2}, AddGlue: []Glue{glue(ns2, "192.0.2.2"), glue(ns2, "2001:db8::2")}},
			lines: []string{"missing NS " + ns2, "missing glue " + ns2 + " A 192.0.2.2", "missing glue " + ns2 + " AAAA 2001:db8::2"},
		},
		{
			name:  "a site's name server leaves with its glue",
			want:  Delegation{[]NameServer{ns(ns1, "192.0.2.1")}},
			have:  Delegation{[]NameServer{ns(ns1, "192.0.2.1"), ns(ns2, "192.0.2.2")}},
			diff:  Diff{Zone: zone, RemoveNS: []string{ns2}, RemoveGlue: []Glue{glue(ns2, "192.0.2.2")}},
			lines: []string{"extra NS " + ns2, "extra glue " + ns2 + " A 192.0.2.2"},
		},
		{
			name:  "wrong glue",
			want:  Delegation{[]NameServer{ns(ns1, "192.0.2.1")}},
			have:  Delegation{[]NameServer{ns(ns1, "192.0.2.99")}},
			diff:  Diff{Zone: zone, AddGlue: []Glue{glue(ns1, "192.0.2.1")}, RemoveGlue: []Glue{glue(ns1, "192.0.2.99")}},
			lines: []string{"wrong glue " + ns1 + " A: parent has 192.0.2.99, want 192.0.2.1"},
		},
		{
			name:  "missing glue of a kept name",
			want:  Delegation{[]NameServer{ns(ns1, "192.0.2.1", "::ffff:192.0.2.3")}},
			have:  Delegation{[]NameServer{ns(ns1, "192.0.2.1")}},
			diff:  Diff{Zone: zone, AddGlue: []Glue{glue(ns1, "192.0.2.3")}},
			lines: []string{"missing glue " + ns1 + " A 192.0.2.3"},
		},
		{
			name:  "out-of-bailiwick addresses are not glue",
			want:  Delegation{[]NameServer{ns(ext, "192.0.2.7")}},
			have:  Delegation{[]NameServer{ns(ext), ns("ns.gone.example.", "192.0.2.8")}},
			diff:  Diff{Zone: zone, RemoveNS: []string{"ns.gone.example."}},
			lines: []string{"extra NS ns.gone.example."},
		},
		{
			name:  "no delegation yet",
			want:  Delegation{[]NameServer{ns(ns2, "192.0.2.2"), ns(ns1, "192.0.2.1")}},
			diff:  Diff{Zone: zone, AddNS: []string{ns1, ns2}, AddGlue: []Glue{glue(ns1, "192.0.2.1"), glue(ns2, "192.0.2.2")}},
			lines: []string{"missing NS " + ns1, "missing NS " + ns2, "missing glue " + ns1 + " A 192.0.2.1", "missing glue " + ns2 + " A 192.0.2.2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Compute("GSLB.example.com", tc.want, tc.have)
			if !reflect.DeepEqual(d, tc.diff) {
				t.Errorf("Compute:\n got %+v\nwant %+v", d, tc.diff)
			}
			if d.Empty() != (len(tc.lines) == 0) {
				t.Errorf("Empty() = %v with lines %q", d.Empty(), tc.lines)
			}
			if got := d.Lines(); !slices.Equal(got, tc.lines) {
				t.Errorf("Lines:\n got %q\nwant %q", got, tc.lines)
			}
		})
	}
}

func TestExceptAndKeepRemovals(t *testing.T) {
	ns1, ns2, ns3 := "ns1.gslb.example.com.", "ns2.gslb.example.com.", "ns3.gslb.example.com."
	have := Delegation{[]NameServer{ns(ns1, "192.0.2.1"), ns(ns2, "192.0.2.2")}}
	want := Delegation{[]NameServer{ns(ns3, "192.0.2.3")}}
	d := Compute(zone, want, have)

	held := d.Except(map[string]bool{ns2: true, ns3: true})
	if !slices.Equal(held.RemoveNS, []string{ns1}) || len(held.AddNS) != 0 || len(held.AddGlue) != 0 ||
		!slices.Equal(held.RemoveGlue, []Glue{glue(ns1, "192.0.2.1")}) {
		t.Errorf("Except: %+v", held)
	}
	if got := held.After(have); !slices.Equal(got, []string{ns2}) {
		t.Errorf("After = %q, want [%s]", got, ns2)
	}

	// Removing everything leaves nothing: keep ns1 and its glue.
	all := Compute(zone, Delegation{}, have)
	kept := all.KeepRemovals([]string{ns1})
	if !slices.Equal(kept.RemoveNS, []string{ns2}) || !slices.Equal(kept.RemoveGlue, []Glue{glue(ns2, "192.0.2.2")}) {
		t.Errorf("KeepRemovals: %+v", kept)
	}
	if got := kept.After(have); !slices.Equal(got, []string{ns1}) {
		t.Errorf("After = %q, want [%s]", got, ns1)
	}
}

func TestUpdateMsg(t *testing.T) {
	ns1, ns2, ns3 := "ns1.gslb.example.com.", "ns2.gslb.example.com.", "ns3.gslb.example.com."
	d := Diff{
		Zone:       zone,
		AddNS:      []string{ns3},
		RemoveNS:   []string{ns2, "ns.gone.example."},
		AddGlue:    []Glue{glue(ns3, "192.0.2.3"), glue(ns3, "2001:db8::3"), glue(ns1, "192.0.2.1")},
		RemoveGlue: []Glue{glue(ns2, "192.0.2.2"), glue(ns1, "192.0.2.99")},
	}
	m := UpdateMsg("Example.COM", d, 600)
	if m.Opcode != dns.OpcodeUpdate || len(m.Question) != 1 || m.Question[0].Name != "example.com." || m.Question[0].Qtype != dns.TypeSOA {
		t.Fatalf("zone section: opcode %d, %v", m.Opcode, m.Question)
	}
	if len(m.Answer) != 0 {
		t.Errorf("prerequisites: %v, want none", m.Answer)
	}
	var got []string
	for _, rr := range m.Ns {
		h := rr.Header()
		got = append(got, fmt.Sprintf("%s %d %s %s %s", h.Name, h.Ttl, dns.ClassToString[h.Class], dns.TypeToString[h.Rrtype], rdata(rr)))
	}
	want := []string{
		// RFC 2136 3.4.2.4: delete an RR from an RRset, class NONE, TTL 0
		"gslb.example.com. 0 NONE NS ns2.gslb.example.com.",
		"gslb.example.com. 0 NONE NS ns.gone.example.",
		"ns1.gslb.example.com. 0 NONE A 192.0.2.99",
		// 3.4.2.3: delete an RRset, class ANY, no rdata
		"ns2.gslb.example.com. 0 ANY A ",
		"ns2.gslb.example.com. 0 ANY AAAA ",
		// 3.4.2.2: add to an RRset
		"gslb.example.com. 600 IN NS ns3.gslb.example.com.",
		"ns3.gslb.example.com. 600 IN A 192.0.2.3",
		"ns3.gslb.example.com. 600 IN AAAA 2001:db8::3",
		"ns1.gslb.example.com. 600 IN A 192.0.2.1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("update section:\n got %q\nwant %q", got, want)
	}
	// It packs, as it goes on the wire.
	if _, err := m.Pack(); err != nil {
		t.Fatal(err)
	}
}

func rdata(rr dns.RR) string {
	s := rr.String()
	h := rr.Header().String()
	return strings.TrimSpace(strings.TrimPrefix(s, h))
}

// A key prints without its secret, in the update client too.
func TestTSIGPrintsWithoutSecret(t *testing.T) {
	const secret = "kJ1p4ZZlS2s9xQy3pA9CkCZG5nEJq1H6vF8c3oSxVgI="
	k := TSIG{Name: "k", Algorithm: "hmac-sha256", Secret: secret}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%v", RFC2136{Key: k})} {
		if strings.Contains(s, secret) {
			t.Errorf("printed with its secret: %s", s)
		}
	}
}

func TestParentZone(t *testing.T) {
	for in, want := range map[string]string{
		"gslb.example.com": "example.com.", "GSLB.Example.": "example.", "com.": "", ".": "", "": "",
	} {
		if got := ParentZone(in); got != want {
			t.Errorf("ParentZone(%q) = %q, want %q", in, got, want)
		}
	}
	if !InBailiwick("ns1.GSLB.example.com", zone) || InBailiwick("ns1.example.com.", zone) || !InBailiwick(zone, zone) {
		t.Error("InBailiwick")
	}
}

func TestCheckResponse(t *testing.T) {
	p := &RFC2136{Server: "192.0.2.53:53", Parent: "example.com.", Zone: zone, Key: TSIG{Name: "gslb-update", Algorithm: "hmac-sha256", Secret: "c2VjcmV0c2VjcmV0c2VjcmV0"}}
	resp := func(rcode int, tsigErr uint16, signed bool) *dns.Msg {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		m.Response, m.Rcode = true, rcode
		if signed {
			m.Extra = append(m.Extra, &dns.TSIG{Hdr: dns.RR_Header{Name: "gslb-update.", Rrtype: dns.TypeTSIG, Class: dns.ClassANY}, Algorithm: dns.HmacSHA256, Error: tsigErr})
		}
		return m
	}
	for _, tc := range []struct {
		name string
		r    *dns.Msg
		err  error
		want string // in the error; "" for success
		key  bool   // errors.Is(err, ErrRejectedKey)
	}{
		{"ok", resp(dns.RcodeSuccess, 0, true), nil, "", false},
		{"bad key", resp(dns.RcodeNotAuth, dns.RcodeBadKey, true), nil, "NOTAUTH BADKEY (the server knows no key of that name", true},
		{"bad sig", resp(dns.RcodeNotAuth, dns.RcodeBadSig, true), dns.ErrSig, "NOTAUTH BADSIG (the signature did not verify", true},
		{"refused", resp(dns.RcodeRefused, 0, true), nil, "REFUSED (the server's policy refuses", false},
		{"unsigned", resp(dns.RcodeSuccess, 0, false), nil, "not signed", false},
		{"forged", resp(dns.RcodeSuccess, 0, true), dns.ErrSig, "does not verify", false},
		{"notauth", resp(dns.RcodeNotAuth, 0, false), nil, "NOTAUTH", true},
	} {
		err := p.checkResponse(tc.r, tc.err)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q in it", tc.name, err, tc.want)
		case err != nil && errors.Is(err, ErrRejectedKey) != tc.key:
			t.Errorf("%s: errors.Is(ErrRejectedKey) = %v: %v", tc.name, !tc.key, err)
		case err != nil && strings.Contains(err.Error(), p.Key.Secret):
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
}
