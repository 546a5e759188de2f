package dnsserver_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
	"github.com/meridian-gslb/meridian/gslb"
)

func TestCheckZoneRecords(t *testing.T) {
	for _, tc := range []struct {
		records []string
		err     string // substring; "" = valid
	}{
		{[]string{`@ 300 IN TXT "hi"`, `www 60 IN A 192.0.2.1`, `x IN AAAA 2001:db8::1`, `_s._tcp SRV 0 0 1 x`, `m MX 10 mail.example.net.`}, ""},
		{[]string{`www.gslb.example. 60 IN CAA 0 issue "ca.example"`, `p PTR x.example.`, `n 60 NS ns.example.net.`}, ""},
		{[]string{`www 60 IN A 192.0.2.1`, `www 60 IN A not-an-ip`}, "records[1]: "},
		{[]string{`www.example.com. 60 IN A 192.0.2.1`}, "records[0]: owner www.example.com. is not inside zone gslb.example."},
		{[]string{`www 60 CH TXT "x"`}, "records[0]: class CH"},
		{[]string{`@ 60 IN SOA a. b. 1 2 3 4 5`}, "records[0]: the SOA comes from"},
		{[]string{`@ 60 IN NS ns.example.net.`}, "records[0]: apex NS"},
		{[]string{`@ 60 IN CNAME x.example.net.`}, "records[0]: a CNAME cannot be at the zone apex"},
		{[]string{`a 60 IN CNAME x.example.net.`, `a 60 IN TXT "y"`}, "records[1]: a.gslb.example. has a CNAME and other data"},
		{[]string{`a 60 IN CNAME x.example.net.`, `a 60 IN CNAME y.example.net.`}, "records[1]: a second CNAME"},
		{[]string{`$TTL 60`}, "records[0]: directives"},
		{[]string{` 60 IN A 192.0.2.1`}, "records[0]: a record must start with its owner"},
		{[]string{``}, "records[0]: empty record"},
		{[]string{`a 60 IN A 192.0.2.1 b 60 IN A 192.0.2.2`}, "records[0]: "},
		{[]string{"a 60 IN A 192.0.2.1\nb 60 IN A 192.0.2.2"}, "records[0]: more than one record"},
		{[]string{`a 60 IN BOGUS 1`}, "records[0]: "},
	} {
		z := &gslb.Zone{Name: "gslb.example.", Records: tc.records}
		err := dnsserver.CheckZone(z)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.records, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want it to contain %q", tc.records, err, tc.err)
		}
	}
}

func writeFile(t *testing.T, text string) string {
	p := filepath.Join(t.TempDir(), "zone.db")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const zoneText = `$TTL 300
@	IN SOA ns1 hostmaster (
		2026112201 ; serial
		7200 900 1209600 120 )
	3600 IN NS ns1
	3600 IN NS ns.example.net.
ns1	IN A 192.0.2.53
ns1	IN AAAA 2001:db8::53
www	60 IN A 192.0.2.80
	IN TXT "same owner as above"
$ORIGIN sub.gslb.example.
deep	IN A 192.0.2.81
`

func TestLoadZoneFile(t *testing.T) {
	z := &gslb.Zone{Name: "gslb.example.", ZoneFile: writeFile(t, zoneText), Records: []string{`cfg 30 IN A 192.0.2.1`}}
	if err := dnsserver.LoadZoneFile(z); err != nil {
		t.Fatal(err)
	}
	wantSOA := gslb.SOA{MName: "ns1.gslb.example.", RName: "hostmaster.gslb.example.", Serial: 2026112201, Refresh: 7200, Retry: 900, Expire: 1209600, Minimum: 120, TTL: 300}
	if z.SOA != wantSOA {
		t.Errorf("SOA %+v", z.SOA)
	}
	if len(z.NameServers) != 2 || z.NameServers[0].Name != "ns1.gslb.example." || z.NameServers[1].Name != "ns.example.net." || z.NSTTL != 3600 {
		t.Fatalf("nameservers %+v ttl %d", z.NameServers, z.NSTTL)
	}
	if got := z.NameServers[0].Addresses; len(got) != 2 || got[0] != netip.MustParseAddr("192.0.2.53") {
		t.Errorf("glue %v", got)
	}
	if len(z.NameServers[1].Addresses) != 0 {
		t.Errorf("glue for an out-of-zone name server")
	}
	if len(z.Records) != 6 || z.Records[0] != `cfg 30 IN A 192.0.2.1` {
		t.Fatalf("records %q", z.Records)
	}
	if err := dnsserver.CheckZone(z); err != nil {
		t.Fatal(err)
	}

	// The zone now serves: SOA and NS from the file, records from both.
	st := &gslb.State{Zones: []gslb.Zone{*z}}
	st.ApplyDefaults()
	_, addr := dnstest.StartServer(t, dnstest.Store(t, st))
	for name, want := range map[string]string{
		"gslb.example.":          "gslb.example.\t300\tIN\tSOA\tns1.gslb.example. hostmaster.gslb.example. 2026112201 7200 900 1209600 120",
		"www.gslb.example.":      "www.gslb.example.\t300\tIN\tTXT\t\"same owner as above\"",
		"deep.sub.gslb.example.": "deep.sub.gslb.example.\t300\tIN\tA\t192.0.2.81",
		"cfg.gslb.example.":      "cfg.gslb.example.\t30\tIN\tA\t192.0.2.1",
	} {
		qt := dns.TypeA
		switch name {
		case "gslb.example.":
			qt = dns.TypeSOA
		case "www.gslb.example.":
			qt = dns.TypeTXT
		}
		r := exchange(t, "udp", addr, query(name, qt))
		if len(r.Answer) != 1 || r.Answer[0].String() != want {
			t.Errorf("%s: %v", name, r.Answer)
		}
	}

	// Config wins over the file for SOA and NS.
	z2 := &gslb.Zone{Name: "gslb.example.", ZoneFile: z.ZoneFile, SOA: gslb.SOA{MName: "a.example."},
		NameServers: []gslb.NameServer{{Name: "b.example."}}}
	if err := dnsserver.LoadZoneFile(z2); err != nil {
		t.Fatal(err)
	}
	if z2.SOA.MName != "a.example." || len(z2.NameServers) != 1 || len(z2.Records) != 5 {
		t.Errorf("config overridden: %+v", z2)
	}
}

func TestZoneFileErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"$TTL 60\nwww IN A 192.0.2.1\nbad IN A 300.1.1.1\n", "line 3: bad A"},
		{"$TTL 60\n$INCLUDE /etc/passwd\n", "line 2: "},
		{"$TTL 60\nwww IN A 192.0.2.1\nwww.example.com. IN A 192.0.2.2\n", "line 3: owner www.example.com. is not inside zone"},
		{"$TTL 60\nx IN CNAME a.example.\nx IN TXT \"b\"\n", "has a CNAME and other data"},
	} {
		p := writeFile(t, tc.text)
		z := &gslb.Zone{Name: "gslb.example.", ZoneFile: p}
		err := dnsserver.LoadZoneFile(z)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "zone_file "+p) {
			t.Errorf("%q: %v, want zone_file %s ... %s", tc.text, err, p, tc.want)
		}
		if err2 := dnsserver.CheckZone(z); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("CheckZone %v differs from LoadZoneFile %v", err2, err)
		}
	}
	err := dnsserver.LoadZoneFile(&gslb.Zone{Name: "gslb.example.", ZoneFile: "/nonexistent/zone.db"})
	if err == nil || !strings.Contains(err.Error(), "zone_file /nonexistent/zone.db") {
		t.Errorf("missing file: %v", err)
	}
}

// A 100,000-record file loads in well under a second, and a server
// compiles it.
func TestLoadBigZoneFile(t *testing.T) {
	var b strings.Builder
	b.WriteString("$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n")
	for i := range 100000 {
		fmt.Fprintf(&b, "www%d 30 IN A 10.%d.%d.%d\n", i, i>>16, (i>>8)&255, i&255)
	}
	z := &gslb.Zone{Name: "gslb.example.", ZoneFile: writeFile(t, b.String())}
	start := time.Now()
	if err := dnsserver.LoadZoneFile(z); err != nil {
		t.Fatal(err)
	}
	load := time.Since(start)
	if len(z.Records) != 100001 {
		t.Fatalf("%d records", len(z.Records))
	}
	st := &gslb.State{Zones: []gslb.Zone{*z}}
	st.ApplyDefaults()
	start = time.Now()
	s, addr := dnstest.StartServer(t, dnstest.Store(t, st))
	compile := time.Since(start)
	t.Logf("load %v, compile+start %v", load, compile)
	if load > time.Second && !testing.Short() && !raceEnabled {
		t.Errorf("loading 100k records took %v", load)
	}
	r := exchange(t, "udp", addr, query("www99999.gslb.example.", dns.TypeA))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.1.134.159" {
		t.Errorf("answer %v", r.Answer)
	}
	_ = s
}
