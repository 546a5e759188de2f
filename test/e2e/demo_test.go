package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// The demo's sites and addresses (testdata/demo/meridian.yaml).
const (
	appUS   = "192.0.2.10"
	appEU   = "198.51.100.10"
	appAP   = "203.0.113.10"
	appEU6  = "2001:db8:2::10"
	wwwUS   = "192.0.2.20"
	wwwEU   = "198.51.100.20"
	dbEU    = "198.51.100.30"
	edgeEU  = "198.51.100.40"
	edgeUSC = "edge-lb.us-east.example.net."
)

func demoConfig() string { return filepath.Join(repoRoot, "testdata", "demo", "meridian.yaml") }

// demo is a running demo: its backends and the server.
type demo struct {
	*meridian
	backendPort int    // the demo backends' port (8080 in `make run`)
	token       string // the admin token file
}

// demoBackendIPs are the sites' backends in testdata/demo/meridian.yaml.
var demoBackendIPs = []string{"127.10.1.1", "127.10.2.1", "127.10.3.1"}

// startDemo serves a copy of testdata/demo/meridian.yaml that differs only
// in the port of the health checks, with `meridian demo-backends` on that
// port as `make run` starts them on 8080 (so a `make run` on this machine
// and parallel tests do not collide), and the listeners from the command
// line as `make run` gives them (on port 0, read back from the ready file).
func startDemo(t *testing.T) *demo {
	t.Helper()
	src := filepath.Dir(demoConfig())
	dir := t.TempDir()
	port, _ := proctest.StartDemoBackends(t, meridianBin, proctest.MeridianEnv(), demoBackendIPs, []string{"us-east", "eu-west", "ap-south"})
	raw, err := os.ReadFile(demoConfig())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "meridian.yaml", demoChecksOn(t, string(raw), port))
	for _, f := range []string{"demo.mmdb", "admin-token"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	m := startMeridian(t, filepath.Join(dir, "meridian.yaml"), []string{"127.0.0.1:0"}, "127.0.0.1:0")
	waitCompiled(t, m)
	return &demo{meridian: m, backendPort: port, token: filepath.Join(dir, "admin-token")}
}

// demoChecksOn is the demo config cfg with its health checks on port
// (the demo backends' shared port) instead of 8080.
func demoChecksOn(t *testing.T, cfg string, port int) string {
	t.Helper()
	const want = 3 // default_check, db's and shop's
	if n := strings.Count(cfg, "port: 8080"); n != want {
		t.Fatalf("demo config: %d health checks on port 8080, want %d (default_check, db's and shop's)", n, want)
	}
	return strings.ReplaceAll(cfg, "port: 8080", "port: "+strconv.Itoa(port))
}

// waitCompiled waits until m's geo and topology decisions are compiled:
// until then answers are right but their ECS scopes are the database's
// networks, and tests that read scopes want the steady state.
func waitCompiled(t *testing.T, m *meridian) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, m, "meridian_geo_undecided_services") != 0 || metric(t, m, "meridian_geo_decisions") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the geo decisions were not compiled in 30 s (meridian_geo_undecided_services, meridian_geo_decisions)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// demoCommands runs scripts/demo-commands.sh for d and returns its lines.
func demoCommands(t *testing.T, d *demo) string {
	t.Helper()
	out, err := run(t, 10*time.Second, filepath.Join(repoRoot, "scripts", "demo-commands.sh"),
		d.DNS[0], strings.TrimPrefix(d.HTTP, "http://"), meridianBin, strconv.Itoa(d.backendPort), d.token)
	if err != nil {
		t.Fatalf("demo-commands.sh: %v\n%s", err, out)
	}
	return out
}

// walkthroughHeader starts the part of demo-commands.sh that changes the
// demo's state.
const walkthroughHeader = "Failover walk-through"

// TestDemoContract is the contract of `make run`: the demo config answers
// every command the README and `make run` print with the stated answer.
func TestDemoContract(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dig := proctest.RequireTool(t, "dig", "bind9-dnsutils")
	m := startDemo(t)
	srv := m.DNS[0]
	host, port, _ := strings.Cut(srv, ":")

	t.Run("printed commands", func(t *testing.T) {
		// scripts/demo-commands.sh is what `make run` prints; every dig line
		// with "# -> ANSWER" must give that answer (alternatives: " | ").
		// The failover walk-through is TestDemoFailoverWalkthrough's.
		out := demoCommands(t, m)
		static, _, ok := strings.Cut(out, walkthroughHeader)
		if !ok {
			t.Fatalf("demo-commands.sh prints no %q section:\n%s", walkthroughHeader, out)
		}
		checked := 0
		for _, line := range strings.Split(static, "\n") {
			line = strings.TrimSpace(line)
			cmdPart, want, ok := strings.Cut(line, "# -> ")
			if !ok || !strings.HasPrefix(line, "dig ") {
				continue
			}
			args := append(strings.Fields(cmdPart)[1:], "+time=2", "+tries=1")
			got, err := run(t, 15*time.Second, dig, args...)
			got = strings.Join(strings.Fields(strings.ReplaceAll(got, "\n", " ")), " ")
			alts := strings.Split(strings.TrimSpace(want), " | ")
			if err != nil || !contains(alts, got) {
				t.Errorf("%s\n  want %q\n  got  %q (err %v)", cmdPart, alts, got, err)
			}
			checked++
		}
		if checked < 12 {
			t.Fatalf("only %d dig lines with expectations in the printed commands:\n%s", checked, out)
		}
	})

	t.Run("geo by ECS with dig", func(t *testing.T) {
		for _, tc := range []struct{ qtype, subnet, want string }{
			{"A", "81.2.69.0/24", appEU},
			{"A", "8.8.8.0/24", appUS},
			{"A", "202.12.27.0/24", appAP},
			{"AAAA", "2001:67c:2e8::/48", appEU6},
		} {
			args := []string{"@" + host, "-p", port, "app.gslb.example", tc.qtype, "+subnet=" + tc.subnet, "+time=2", "+tries=1"}
			short, err := run(t, 15*time.Second, dig, append(args, "+short")...)
			if err != nil || strings.TrimSpace(short) != tc.want {
				t.Errorf("dig %s +short: want %s, got %q (err %v)", strings.Join(args, " "), tc.want, short, err)
			}
			full, err := run(t, 15*time.Second, dig, args...)
			if err != nil {
				t.Errorf("dig %s: %v\n%s", strings.Join(args, " "), err, full)
				continue
			}
			d := parseDig(full)
			if d.status != "NOERROR" || !d.flags["aa"] || d.flags["ra"] {
				t.Errorf("dig %s: status %s flags %v, want NOERROR with aa and without ra\n%s", strings.Join(args, " "), d.status, d.flags, full)
			}
			if d.ecsSubnet != tc.subnet {
				t.Errorf("dig %s: CLIENT-SUBNET echo %q, want %s/<scope>\n%s", strings.Join(args, " "), d.ecsLine, tc.subnet, full)
			}
			if d.ecsScope <= 0 {
				t.Errorf("dig %s: ECS scope %d, want > 0 (the geo answer depends on the subnet)\n%s", strings.Join(args, " "), d.ecsScope, full)
			}
			t.Logf("%s %s ecs %s -> %s, scope /%d", "app.gslb.example", tc.qtype, tc.subnet, strings.TrimSpace(short), d.ecsScope)
		}
	})

	t.Run("weighted 3:1 over many subnets", func(t *testing.T) {
		const n = 1000
		count := map[string]int{}
		scopes := map[uint8]int{}
		for i := range n {
			subnet := distinctSubnet(i)
			r := exchange(t, srv, dnsQuery{name: "www.gslb.example", qtype: dns.TypeA, ecs: subnet})
			a := addrs(r)
			if r.Rcode != dns.RcodeSuccess || len(a) != 1 {
				t.Fatalf("www A ecs %s: want one address, got %s", subnet, describe(r))
			}
			count[a[0]]++
			if e := ecsOf(r); e != nil {
				scopes[e.SourceScope]++
			}
		}
		us := float64(count[wwwUS]) / n
		t.Logf("www over %d /24s: %v (us-east share %.3f, want ~0.75); ECS scopes %v", n, count, us, scopes)
		if count[wwwUS]+count[wwwEU] != n {
			t.Errorf("www answered addresses other than %s and %s: %v", wwwUS, wwwEU, count)
		}
		// binomial sd at n=1000 is 0.014: 0.68..0.82 is 5 sd either side
		if us < 0.68 || us > 0.82 {
			t.Errorf("www us-east share %.3f over %d subnets, want 0.75 +- 0.07 (weights 3:1)", us, n)
		}
		// persistence decides: scope = the persistence mask (/24)
		if scopes[24] != n {
			t.Errorf("www ECS scopes %v, want /24 (the persistence mask) on all %d answers", scopes, n)
		}
	})

	t.Run("persistence per /24", func(t *testing.T) {
		for i := range 40 {
			p := netip.MustParsePrefix(distinctSubnet(i * 7))
			first := ""
			for j, q := range []dnsQuery{
				{ecs: p.String()},
				{ecs: p.String(), net: "tcp"},
				{ecs: netip.PrefixFrom(hostIn(p, 1), 32).String()},
				{ecs: netip.PrefixFrom(hostIn(p, 77), 32).String()},
				{ecs: netip.PrefixFrom(hostIn(p, 254), 32).String()},
				{ecs: netip.PrefixFrom(hostIn(p, 5), 25).Masked().String()},
				{ecs: p.String()},
			} {
				q.name, q.qtype = "www.gslb.example", dns.TypeA
				r := exchange(t, srv, q)
				a := addrs(r)
				if len(a) != 1 {
					t.Fatalf("%s: want one address, got %s", q, describe(r))
				}
				if j == 0 {
					first = a[0]
				} else if a[0] != first {
					t.Errorf("%s: got %s, but %s got %s: a /24 must stick to one site", q, a[0], p, first)
				}
			}
		}
	})

	t.Run("priority failover order", func(t *testing.T) {
		for i, ecs := range []string{"", "81.2.69.0/24", "8.8.8.0/24", "202.12.27.0/24", "2001:67c:2e8::/48"} {
			for _, n := range []string{"udp", "tcp"} {
				q := dnsQuery{name: "db.gslb.example", qtype: dns.TypeA, ecs: ecs, net: n, noEDNS: i == 0 && n == "udp"}
				r := exchange(t, srv, q)
				if got := addrs(r); r.Rcode != dns.RcodeSuccess || len(got) != 1 || got[0] != dbEU {
					t.Errorf("%s: want %s (eu-west, priority 1), got %s", q, dbEU, describe(r))
				}
			}
		}
	})

	t.Run("hostname member as CNAME", func(t *testing.T) {
		r := exchange(t, srv, dnsQuery{name: "edge.gslb.example", qtype: dns.TypeA, ecs: "8.8.8.0/24"})
		if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
			t.Fatalf("edge A from 8.8.8.0/24: want an authoritative CNAME, got %s", describe(r))
		}
		c, ok := r.Answer[0].(*dns.CNAME)
		if !ok || c.Target != edgeUSC || !strings.EqualFold(c.Hdr.Name, "edge.gslb.example.") {
			t.Errorf("edge A from 8.8.8.0/24: want edge.gslb.example. CNAME %s first, got %s", edgeUSC, describe(r))
		}
		r = exchange(t, srv, dnsQuery{name: "edge.gslb.example", qtype: dns.TypeA, ecs: "81.2.69.0/24"})
		if got := addrs(r); len(got) != 1 || got[0] != edgeEU {
			t.Errorf("edge A from 81.2.69.0/24: want %s, got %s", edgeEU, describe(r))
		}
	})

	t.Run("apex and static records", func(t *testing.T) {
		// static data does not depend on the client: ECS scope 0
		r := exchange(t, srv, dnsQuery{name: "gslb.example", qtype: dns.TypeSOA, ecs: "81.2.69.0/24"})
		requireAuthAnswer(t, r, "SOA")
		if soa, ok := r.Answer[0].(*dns.SOA); !ok || soa.Ns != "ns1.gslb.example." || soa.Mbox != "hostmaster.gslb.example." ||
			soa.Serial != 2026112101 || soa.Refresh != 3600 || soa.Retry != 600 || soa.Expire != 1209600 || soa.Minttl != 60 || soa.Hdr.Ttl != 3600 {
			t.Errorf("SOA: got %s", describe(r))
		}
		if e := ecsOf(r); e == nil || e.SourceScope != 0 {
			t.Errorf("SOA with ECS: want the option echoed with scope 0, got %s", describe(r))
		}

		r = exchange(t, srv, dnsQuery{name: "gslb.example", qtype: dns.TypeNS})
		requireAuthAnswer(t, r, "NS")
		if ns, ok := r.Answer[0].(*dns.NS); !ok || len(r.Answer) != 1 || ns.Ns != "ns1.gslb.example." || ns.Hdr.Ttl != 3600 {
			t.Errorf("NS: want ns1.gslb.example. TTL 3600, got %s", describe(r))
		}
		if !hasRR(r.Extra, "ns1.gslb.example.", dns.TypeA, "127.0.0.1") {
			t.Errorf("NS: want glue ns1.gslb.example. A 127.0.0.1 in the additional section, got %s", describe(r))
		}

		r = exchange(t, srv, dnsQuery{name: "ns1.gslb.example", qtype: dns.TypeA})
		requireAuthAnswer(t, r, "ns1 A")
		if got := addrs(r); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("ns1.gslb.example A: want 127.0.0.1, got %s", describe(r))
		}

		r = exchange(t, srv, dnsQuery{name: "gslb.example", qtype: dns.TypeTXT})
		requireAuthAnswer(t, r, "TXT")
		if txt, ok := r.Answer[0].(*dns.TXT); !ok || strings.Join(txt.Txt, "") != "Meridian GSLB demo zone" {
			t.Errorf("TXT: got %s", describe(r))
		}

		r = exchange(t, srv, dnsQuery{name: "gslb.example", qtype: dns.TypeMX})
		requireAuthAnswer(t, r, "MX")
		if mx, ok := r.Answer[0].(*dns.MX); !ok || mx.Preference != 10 || mx.Mx != "mail.gslb.example." {
			t.Errorf("MX: got %s", describe(r))
		}

		r = exchange(t, srv, dnsQuery{name: "_sip._udp.gslb.example", qtype: dns.TypeSRV})
		requireAuthAnswer(t, r, "SRV")
		if srv, ok := r.Answer[0].(*dns.SRV); !ok || srv.Port != 5060 || srv.Target != "sip.gslb.example." {
			t.Errorf("SRV: got %s", describe(r))
		}

		// a static CNAME to a service: the chain is followed in-zone
		r = exchange(t, srv, dnsQuery{name: "docs.gslb.example", qtype: dns.TypeA, ecs: "81.2.69.0/24"})
		requireAuthAnswer(t, r, "docs CNAME")
		if c, ok := r.Answer[0].(*dns.CNAME); !ok || c.Target != "app.gslb.example." {
			t.Errorf("docs A: want CNAME app.gslb.example. first, got %s", describe(r))
		}
		t.Logf("docs.gslb.example A from 81.2.69.0/24: %s", describe(r))
	})

	t.Run("negative answers", func(t *testing.T) {
		r := exchange(t, srv, dnsQuery{name: "nope.gslb.example", qtype: dns.TypeA, ecs: "81.2.69.0/24"})
		if r.Rcode != dns.RcodeNameError || !r.Authoritative {
			t.Errorf("nope.gslb.example A: want authoritative NXDOMAIN, got %s", describe(r))
		}
		requireNegativeSOA(t, r, "nope.gslb.example A")
		if e := ecsOf(r); e != nil && e.SourceScope != 0 {
			t.Errorf("NXDOMAIN: ECS scope %d, want 0", e.SourceScope)
		}

		// the name exists, but not with this type: NODATA (RFC 8020), never NXDOMAIN
		for _, q := range []dnsQuery{
			{name: "app.gslb.example", qtype: dns.TypeTXT},
			{name: "mail.gslb.example", qtype: dns.TypeAAAA},
			{name: "db.gslb.example", qtype: dns.TypeAAAA},
			{name: "_udp.gslb.example", qtype: dns.TypeA}, // empty non-terminal
		} {
			r := exchange(t, srv, q)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 0 {
				t.Errorf("%s: want authoritative NODATA, got %s", q, describe(r))
			}
			requireNegativeSOA(t, r, q.String())
		}

		r = exchange(t, srv, dnsQuery{name: "example.com", qtype: dns.TypeA})
		if r.Rcode != dns.RcodeRefused || r.Authoritative {
			t.Errorf("example.com A: want REFUSED without AA, got %s", describe(r))
		}
	})

	t.Run("protocol basics", func(t *testing.T) {
		// question case is echoed; RA is 0; no OPT without EDNS in the query
		q := dnsQuery{name: "App.GSLB.example", qtype: dns.TypeA, noEDNS: true}
		r := exchange(t, srv, q)
		if len(r.Question) != 1 || r.Question[0].Name != "App.GSLB.example." || r.RecursionAvailable || r.IsEdns0() != nil {
			t.Errorf("%s: want the question echoed with its case, RA=0, no OPT; got q=%v %s", q, r.Question, describe(r))
		}
		if got := addrs(r); len(got) != 1 {
			t.Errorf("%s: want one address, got %s", q, describe(r))
		}
		// source address 127.0.0.1 is placed at us-east by the demo's geo rule
		if got := addrs(r); len(got) == 1 && got[0] != appUS {
			t.Errorf("%s from 127.0.0.1: want %s (geo rule 127.0.0.0/8 -> us-east), got %s", q, appUS, describe(r))
		}
		r = exchange(t, srv, dnsQuery{name: "app.gslb.example", qtype: dns.TypeA, ecs: "81.2.69.0/24", net: "tcp"})
		if got := addrs(r); len(got) != 1 || got[0] != appEU {
			t.Errorf("app A over TCP from 81.2.69.0/24: want %s, got %s", appEU, describe(r))
		}
	})

	t.Run("explain", func(t *testing.T) {
		out, err := run(t, 15*time.Second, meridianBin, "explain", "app.gslb.example", "--type", "A", "--client", "81.2.69.0/24", "--server", m.HTTP)
		if err != nil || !strings.Contains(out, appEU) || !strings.Contains(out, "eu-west") || !strings.Contains(out, "compiled:  81.2.69.0/24, sites by preference: 0: eu-west") {
			t.Errorf("meridian explain app.gslb.example --type A --client 81.2.69.0/24: want %s (eu-west) and the compiled decision in the output, got (err %v):\n%s", appEU, err, out)
		}
		t.Logf("meridian explain:\n%s", out)
		code, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/explain?name=app.gslb.example&type=A&client=202.12.27.0/24")
		if code != 200 || !strings.Contains(body, appAP) {
			t.Errorf("GET /api/v1/explain for 202.12.27.0/24: want 200 with %s, got %d:\n%s", appAP, code, body)
		}
	})

	t.Run("http endpoints", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, body := proctest.HTTP(t, "GET", m.HTTP+p); code != 200 {
				t.Errorf("GET %s: %d %s", p, code, body)
			}
		}
		code, body := proctest.HTTP(t, "GET", m.HTTP+"/metrics")
		if code != 200 || !regexp.MustCompile(`(?m)^meridian_\w+`).MatchString(body) {
			t.Errorf("GET /metrics: want 200 with meridian_* series, got %d:\n%.2000s", code, body)
		}
	})

	t.Run("version and check-config", func(t *testing.T) {
		out, err := run(t, 10*time.Second, meridianBin, "version")
		if err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("meridian version: err %v, output %q", err, out)
		}
		out, err = run(t, 10*time.Second, meridianBin, "check-config", demoConfig())
		if err != nil {
			t.Errorf("meridian check-config on the demo: %v\n%s", err, out)
		}
		bad := writeFile(t, t.TempDir(), "bad.yaml", strings.Join([]string{
			"zones:",
			"  - name: gslb.example.",
			"    soa: {mname: ns1.gslb.example., rname: hostmaster.gslb.example., serial: 1, refresh: 3600, retry: 600, expire: 1209600, minimum: 60, ttl: 3600}",
			"    nameservers: [{name: ns1.gslb.example., addresses: [127.0.0.1]}]",
			"sites:",
			"  - {name: us-east, location: {lat: 39.04, lon: -77.49, country: US, continent: NA}}",
			"services:",
			"  - name: app.gslb.example.",
			"    policy: {strategy: nearest, ttl: 30}",
			"    members: [{site: mars, addresses: [192.0.2.10]}]",
			"",
		}, "\n"))
		out, err = run(t, 10*time.Second, meridianBin, "check-config", bad)
		if code := exitCode(err); code != 1 {
			t.Errorf("meridian check-config on a bad file: exit %d, want 1; output:\n%s", code, out)
		}
		for _, want := range []string{"strategy", "mars"} {
			if !regexp.MustCompile(`(?m)^\S+: .*` + want).MatchString(out) {
				t.Errorf("meridian check-config: want a `path: reason` line about %q, got:\n%s", want, out)
			}
		}
	})
}

func requireAuthAnswer(t *testing.T, r *dns.Msg, what string) {
	t.Helper()
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
		t.Fatalf("%s: want an authoritative answer, got %s", what, describe(r))
	}
}

// requireNegativeSOA: the SOA in the authority section with TTL
// min(SOA TTL, MINIMUM) = min(3600, 60) (RFC 2308).
func requireNegativeSOA(t *testing.T, r *dns.Msg, what string) {
	t.Helper()
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			if soa.Hdr.Name != "gslb.example." || soa.Hdr.Ttl != 60 {
				t.Errorf("%s: negative SOA %s, want owner gslb.example. and TTL 60", what, soa)
			}
			return
		}
	}
	t.Errorf("%s: no SOA in the authority section: %s", what, describe(r))
}

func hasRR(rrs []dns.RR, name string, qtype uint16, value string) bool {
	for _, rr := range rrs {
		if !strings.EqualFold(rr.Header().Name, name) || rr.Header().Rrtype != qtype {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			if v.A.String() == value {
				return true
			}
		case *dns.AAAA:
			if v.AAAA.String() == value {
				return true
			}
		}
	}
	return false
}

// distinctSubnet returns the i-th of many distinct public-looking IPv4 /24s.
func distinctSubnet(i int) string {
	first := []byte{11, 23, 31, 45, 52, 64, 78, 89, 94, 103, 121, 139, 151, 163, 177, 185, 193, 212}
	a := first[i%len(first)]
	b := byte(i * 37 % 256)
	c := byte(i * 101 % 256)
	return fmt.Sprintf("%d.%d.%d.0/24", a, b, c)
}

func hostIn(p netip.Prefix, host byte) netip.Addr {
	b := p.Addr().As4()
	b[3] = host
	return netip.AddrFrom4(b)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// digResult is what the tests read from dig's full output.
type digResult struct {
	status    string
	flags     map[string]bool
	ecsLine   string // "81.2.69.0/24/24"
	ecsSubnet string // "81.2.69.0/24"
	ecsScope  int    // -1 when absent
}

var (
	digHeader = regexp.MustCompile(`status: (\w+),`)
	digFlags  = regexp.MustCompile(`;; flags: ([a-z ]*);`)
	digECS    = regexp.MustCompile(`CLIENT-SUBNET: (\S+)/(\d+)/(\d+)`)
)

func parseDig(out string) digResult {
	d := digResult{flags: map[string]bool{}, ecsScope: -1}
	if m := digHeader.FindStringSubmatch(out); m != nil {
		d.status = m[1]
	}
	if m := digFlags.FindStringSubmatch(out); m != nil {
		for _, f := range strings.Fields(m[1]) {
			d.flags[f] = true
		}
	}
	if m := digECS.FindStringSubmatch(out); m != nil {
		d.ecsLine = m[0]
		d.ecsSubnet = m[1] + "/" + m[2]
		d.ecsScope, _ = strconv.Atoi(m[3])
	}
	return d
}
