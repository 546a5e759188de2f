package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// unbound is a real recursive resolver with its ECS cache (subnetcache) in
// front of Meridian, as many clients will meet it.
type unbound struct {
	*proctest.Proc
	addr string
	conf string
	ctl  string // unbound-control, "" when not installed (never under CI)
}

// startUnbound runs unbound in front of meridianAddr. unbound cannot
// listen on port 0 and report the port, so a free port is chosen for it,
// and chosen again if another process took it before unbound bound it.
// unbound-checkconf and unbound-control (both in the unbound package)
// make the test stronger; under CI they are required.
func startUnbound(t *testing.T, meridianAddr string) *unbound {
	t.Helper()
	return startUnboundWith(t, func(dir string, port int) string { return writeUnboundConf(t, dir, port, meridianAddr) })
}

// startUnboundWith runs unbound with the configuration conf writes for
// its directory and port.
func startUnboundWith(t *testing.T, conf func(dir string, port int) string) *unbound {
	t.Helper()
	bin := proctest.RequireTool(t, "unbound", "unbound")
	checkconf := proctest.OptionalTool(t, "unbound-checkconf", "unbound")
	ctl := proctest.OptionalTool(t, "unbound-control", "unbound")
	var u *unbound
	startOnFreePort(t, "unbound", "127.0.0.1", func(port int) (*proctest.Proc, error) {
		u = &unbound{ctl: ctl, addr: hostPort("127.0.0.1", port)}
		u.conf = conf(t.TempDir(), port)
		if checkconf != "" {
			if out, err := run(t, 10*time.Second, checkconf, u.conf); err != nil {
				t.Fatalf("unbound-checkconf: %v\n%s", err, out)
			}
		}
		u.Proc = proctest.Start(t, "unbound", exec.Command(bin, "-d", "-c", u.conf))
		// unbound logs nothing when it is ready: the first answer is the sync point
		return u.Proc, u.waitAnswer(30 * time.Second)
	})
	return u
}

func (u *unbound) waitAnswer(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if u.Exited() {
			return fmt.Errorf("unbound exited at start (%v):\n%s", u.Err(), u.Out.String())
		}
		if _, err := tryExchange(u.addr, dnsQuery{name: "ns1.gslb.example", qtype: dns.TypeA}); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("unbound on %s did not answer in %v:\n%s", u.addr, timeout, u.Out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeUnboundConf(t *testing.T, dir string, port int, meridianAddr string) string {
	t.Helper()
	return writeResolverConf(t, dir, port, []string{meridianAddr},
		`    domain-insecure: "gslb.example"
    # no trust anchors (no auto-trust-anchor-file): the zone is unsigned`)
}

// writeResolverConf is unbound's configuration on 127.0.0.1:port with its
// ECS cache, gslb.example and the root stubbed to the Meridian servers,
// and trust: the lines that say how to validate gslb.example.
func writeResolverConf(t *testing.T, dir string, port int, servers []string, trust string) string {
	t.Helper()
	var hosts, stubs []string
	for _, s := range servers {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		stubs = append(stubs, fmt.Sprintf("    stub-addr: %s@%s", h, p))
	}
	return writeFile(t, dir, "unbound.conf", fmt.Sprintf(`server:
    interface: 127.0.0.1@%[1]d
    port: %[1]d
    do-ip6: no
    num-threads: 1
    so-reuseport: no
    username: ""
    chroot: ""
    directory: "%[2]s"
    pidfile: "%[2]s/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2  # say why an answer is bogus
    do-daemonize: no
    access-control: 127.0.0.0/8 allow
    # ECS: subnetcache keeps one answer per (name, type, scope network)
    module-config: "subnetcache validator iterator"
    send-client-subnet: %[3]s
    client-subnet-always-forward: yes
    max-client-subnet-ipv4: 24
    max-client-subnet-ipv6: 56
    do-not-query-localhost: no
%[4]s
    prefetch: no
    prefetch-key: no
    extended-statistics: yes  # num.query.subnet, num.query.subnet_cache
remote-control:
    control-enable: yes
    control-interface: "%[2]s/unbound.ctl"
    control-use-cert: no
stub-zone:
    name: "gslb.example"
%[5]s
# Everything stays on loopback: the root is a stub to Meridian too (which
# REFUSES it), so unbound never primes the real root servers.
stub-zone:
    name: "."
%[5]s
`, port, dir, strings.Join(hosts, " "), trust, strings.Join(stubs, "\n")))
}

// stats returns unbound-control stats_noreset as a map (nil without
// unbound-control, which only a local run may lack).
func (u *unbound) stats(t *testing.T) map[string]int {
	t.Helper()
	if u.ctl == "" {
		return nil
	}
	out, err := run(t, 10*time.Second, u.ctl, "-c", u.conf, "stats_noreset")
	if err != nil {
		t.Fatalf("unbound-control stats_noreset: %v\n%s", err, out)
	}
	st := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			st[k] = int(f)
		}
	}
	return st
}

// recursive asks unbound (RD=1) and returns the response.
func (u *unbound) query(t *testing.T, qtype uint16, ecs string) *dns.Msg {
	t.Helper()
	m := newMsg(dnsQuery{name: "app.gslb.example", qtype: qtype, ecs: ecs})
	m.RecursionDesired = true
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, u.addr)
	if err != nil {
		t.Fatalf("unbound app.gslb.example %s ecs=%s: %v", dns.TypeToString[qtype], ecs, err)
	}
	return r
}

func firstTTL(r *dns.Msg) uint32 {
	if len(r.Answer) == 0 {
		return 0
	}
	return r.Answer[0].Header().Ttl
}

// TestUnboundECS puts Meridian behind unbound with ECS. Clients in
// different networks ask one after the other; unbound's ECS cache, keyed by
// the scope Meridian returns, must never give one network another's answer.
func TestUnboundECS(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	m := startDemo(t)
	u := startUnbound(t, m.DNS[0])

	cases := []struct {
		qtype  uint16
		subnet string
		want   string
	}{
		{dns.TypeA, "81.2.69.0/24", appEU},
		{dns.TypeA, "8.8.8.0/24", appUS},
		{dns.TypeA, "202.12.27.0/24", appAP},
		{dns.TypeA, "185.0.1.0/24", appEU}, // Frankfurt: a /16 in the demo mmdb
		{dns.TypeAAAA, "2001:67c:2e8::/48", appEU6},
	}
	// Meridian's own scope for each, asked directly
	scope := map[string]uint8{}
	for _, tc := range cases {
		r := exchange(t, m.DNS[0], dnsQuery{name: "app.gslb.example", qtype: tc.qtype, ecs: tc.subnet})
		e := ecsOf(r)
		if e == nil {
			t.Fatalf("meridian direct %s: no ECS in the answer: %s", tc.subnet, describe(r))
		}
		scope[tc.subnet] = e.SourceScope
	}
	t.Logf("Meridian's ECS scopes: %v", scope)
	before := u.stats(t)

	check := func(round string, wantFresh bool) {
		t.Helper()
		for _, tc := range cases {
			r := u.query(t, tc.qtype, tc.subnet)
			got := addrs(r)
			if r.Rcode != dns.RcodeSuccess || len(got) != 1 || got[0] != tc.want {
				t.Errorf("%s: unbound app.gslb.example %s ecs=%s: want %s, got %s", round, dns.TypeToString[tc.qtype], tc.subnet, tc.want, describe(r))
				continue
			}
			ttl := firstTTL(r)
			if wantFresh && ttl != 30 {
				t.Errorf("%s: ecs=%s: TTL %d, want 30 (a fresh answer from Meridian, not another network's cached one)", round, tc.subnet, ttl)
			}
			if !wantFresh && ttl >= 30 {
				t.Errorf("%s: ecs=%s: TTL %d, want < 30 (served from unbound's ECS cache)", round, tc.subnet, ttl)
			}
			e := ecsOf(r)
			es := "no ECS option"
			if e != nil {
				es = fmt.Sprintf("ECS %s/%d scope /%d", e.Address, e.SourceNetmask, e.SourceScope)
			}
			t.Logf("%s: %s %s -> %s ttl %d (%s)", round, tc.subnet, dns.TypeToString[tc.qtype], got[0], ttl, es)
		}
	}
	check("first round (cache misses)", true)
	mid := u.stats(t)
	time.Sleep(1100 * time.Millisecond) // cached TTLs now count down
	check("second round (cache hits)", false)
	if after := u.stats(t); before != nil && mid != nil && after != nil {
		// num.query.subnet counts queries answered with ECS data,
		// num.query.subnet_cache those of them answered from the ECS cache
		miss := mid["num.query.subnet_cache"] - before["num.query.subnet_cache"]
		hit := after["num.query.subnet_cache"] - mid["num.query.subnet_cache"]
		t.Logf("unbound num.query.subnet_cache: +%d in the first round, +%d in the second (num.query.subnet +%d in all)",
			miss, hit, after["num.query.subnet"]-before["num.query.subnet"])
		if miss != 0 {
			t.Errorf("unbound answered %d first-round queries from its ECS cache: one network got another's answer", miss)
		}
		if hit != len(cases) {
			t.Errorf("unbound answered %d second-round queries from its ECS cache, want %d", hit, len(cases))
		}
	} else {
		t.Log("unbound-control not installed: cache use judged by TTLs only (CI requires it)")
	}

	// Our scope is the network that decided the answer (the mmdb entry). A
	// client in another /24 of that network gets unbound's cached answer;
	// a client outside every cached scope makes unbound ask Meridian again,
	// even when it would get the same site.
	shared := 0
	for _, tc := range cases {
		p := netip.MustParsePrefix(tc.subnet)
		s := int(scope[tc.subnet])
		if !p.Addr().Is4() || s == 0 || s >= 24 {
			continue
		}
		other := lastSlash24(netip.PrefixFrom(p.Addr(), s).Masked())
		r := u.query(t, tc.qtype, other)
		if got := addrs(r); len(got) != 1 || got[0] != tc.want || firstTTL(r) >= 30 {
			t.Errorf("ecs=%s, inside Meridian's scope /%d for %s: want the cached %s (TTL < 30), got %s", other, s, tc.subnet, tc.want, describe(r))
			continue
		}
		t.Logf("ecs=%s, inside the /%d scope of %s: answered from unbound's cache (TTL %d)", other, s, tc.subnet, firstTTL(r))
		shared++
	}
	if shared == 0 {
		t.Errorf("no case had a scope shorter than /24 (scopes %v): the cache-sharing check did not run", scope)
	}
	// Sydney: the same site as Tokyo (ap-south), but not in its scope
	r := u.query(t, dns.TypeA, "1.1.1.0/24")
	if got := addrs(r); len(got) != 1 || got[0] != appAP || firstTTL(r) != 30 {
		t.Errorf("unbound ecs=1.1.1.0/24: want a fresh %s (TTL 30), got %s", appAP, describe(r))
	}

	// Without ECS from the client, unbound sends the client's own address
	// (127.0.0.1 -> 127.0.0.0/24), which the demo's geo rule puts at us-east.
	r = u.query(t, dns.TypeA, "")
	if got := addrs(r); len(got) != 1 || got[0] != appUS {
		t.Errorf("unbound app.gslb.example A without ECS from 127.0.0.1: want %s, got %s", appUS, describe(r))
	}
	t.Logf("without client ECS: %s", describe(r))
}

// lastSlash24 is the last /24 inside p (p shorter than /24).
func lastSlash24(p netip.Prefix) string {
	a := p.Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= (1<<(32-p.Bits()) - 1) &^ 0xff
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), 0}), 24).String()
}
