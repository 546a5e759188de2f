package work

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/bench/internal/dnsq"
)

func TestZoneParses(t *testing.T) {
	zp := dns.NewZoneParser(strings.NewReader(ZoneText(Sites[0].Addr, "")), "", "")
	n, www := 0, 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		n++
		if a, ok := rr.(*dns.A); ok && strings.HasPrefix(a.Hdr.Name, "www") {
			www++
			var k int
			if _, err := fmt.Sscanf(a.Hdr.Name, "www%d.gslb.example.", &k); err != nil || a.A.String() != WWWAddr(k) {
				t.Fatalf("%s: %v", rr, err)
			}
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	if www != NumWWW || n != NumWWW+4 {
		t.Fatalf("%d records, %d www", n, www)
	}
}

func TestW2QueriesAreDistinctECS24s(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w2.q")
	if err := WriteW2(p, 20000, false); err != nil {
		t.Fatal(err)
	}
	qs, err := dnsq.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Prefix]bool{}
	for _, b := range qs {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		opt := m.IsEdns0()
		if m.Question[0].Name != App || m.RecursionDesired || opt == nil || len(opt.Option) != 1 {
			t.Fatalf("bad query %v", m)
		}
		e := opt.Option[0].(*dns.EDNS0_SUBNET)
		a, _ := netip.AddrFromSlice(e.Address.To4())
		pfx := netip.PrefixFrom(a, int(e.SourceNetmask))
		if e.SourceNetmask != 24 || pfx.Masked() != pfx || seen[pfx] {
			t.Fatalf("ECS %v repeated or not a /24", pfx)
		}
		seen[pfx] = true
	}
	if len(seen) != 20000 {
		t.Fatalf("%d distinct", len(seen))
	}
}

func TestScopes(t *testing.T) {
	s := Scopes([]int{16, 20, 24, 8, -1})
	if s.P50 != 16 || s.P25 != 8 || s.P75 != 20 || s.AtMost16 != 2 || s.None != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestW2DOQueriesAreW2WithDO(t *testing.T) {
	dir := t.TempDir()
	plain, signed := filepath.Join(dir, "w2.q"), filepath.Join(dir, "w2-do.q")
	if err := WriteW2(plain, 2000, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteW2(signed, 2000, true); err != nil {
		t.Fatal(err)
	}
	a, err := dnsq.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dnsq.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d and %d queries", len(a), len(b))
	}
	for i := range a {
		ma, mb := new(dns.Msg), new(dns.Msg)
		if err := ma.Unpack(a[i]); err != nil {
			t.Fatal(err)
		}
		if err := mb.Unpack(b[i]); err != nil {
			t.Fatal(err)
		}
		if ma.IsEdns0().Do() || !mb.IsEdns0().Do() {
			t.Fatalf("query %d: DO %v and %v", i, ma.IsEdns0().Do(), mb.IsEdns0().Do())
		}
		mb.IsEdns0().SetDo(false)
		if ma.String() != mb.String() {
			t.Fatalf("query %d differs beyond DO:\n%v\n%v", i, ma, mb)
		}
	}
}
