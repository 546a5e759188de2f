package e2e

// Health in answers, end to end: the real binary probes real backends on
// loopback VIPs, and the tests watch DNS answers follow. Every check is
// interval 250ms, rise 2, fall 2; transitions are awaited by polling (see
// health_helpers_test.go), and "after fall probes" / "after rise probes"
// are checked by counting probes, never by the clock.

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// A backend killed leaves the answers after fall failed probes, and comes
// back after rise good ones; the answer is degraded (degraded_ttl) in
// between; explain, /api/v1/health and /metrics say why.
func TestHealthKillAndRevive(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ips := []string{"127.31.1.1", "127.31.1.2", "127.31.1.3"}
	port, lns := listenSamePort(t, ips...)
	var bs []*backend
	for _, ln := range lns {
		bs = append(bs, startBackendOn(t, ln, nil))
	}
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:   "app",
		policy: "{strategy: roundrobin, ttl: 30, degraded_ttl: 5}",
		check:  httpCheck("http", port, "path: /healthz"),
		members: []string{
			"{site: a, addresses: [127.31.1.1]}", "{site: b, addresses: [127.31.1.2]}", "{site: c, addresses: [127.31.1.3]}",
		},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", bs[0].addr, bs[1].addr, bs[2].addr)
	if a := ask(t, m, "app.health.test"); !exactly(ips...)(a) || a.ttl != 30 {
		t.Fatalf("all up: %s, want %v with TTL 30", a, ips)
	}

	bs[1].kill()
	a := waitAnswer(t, m, "app.health.test", "b killed", exactly(ips[0], ips[2]))
	if a.ttl != 5 {
		t.Errorf("while b is down: TTL %d, want the degraded_ttl 5", a.ttl)
	}
	state, failures, _, reason, lastErr := getHealth(t, m).target(t, bs[1].addr)
	if state != "down" || failures < testFall || reason != "refused" {
		t.Errorf("b's target: state %s after %d failures (fall %d), reason %q (%s); want down, >= fall, refused", state, failures, testFall, reason, lastErr)
	}
	out, err := run(t, 15*time.Second, meridianBin, "explain", "app.health.test", "--client", "192.0.2.1", "--server", m.HTTP)
	if err != nil || !regexp.MustCompile(`b/127\.31\.1\.2 +down since \d\d:\d\d:\d\d UTC: refused: .*connection refused`).MatchString(out) {
		t.Errorf("explain while b is down: want b's health line with the probe error (err %v):\n%s", err, out)
	}
	_, metrics := proctest.HTTP(t, "GET", m.HTTP+"/metrics")
	for _, re := range []string{
		`(?m)^meridian_health_target_up\{check="[0-9a-f]{8}",target="127\.31\.1\.2:\d+/http"\} 0$`,
		`(?m)^meridian_health_target_up\{check="[0-9a-f]{8}",target="127\.31\.1\.1:\d+/http"\} 1$`,
		`(?m)^meridian_health_probe_failures_total\{check="[0-9a-f]{8}",reason="refused",target="127\.31\.1\.2:\d+/http"\} [1-9]`,
		`(?m)^meridian_health_snapshot_swaps_total [1-9]`,
		`(?m)^meridian_config_generation 1$`, // health changes are not configuration generations
	} {
		if !regexp.MustCompile(re).MatchString(metrics) {
			t.Errorf("/metrics lacks %s", re)
		}
	}

	before := bs[1].requests.Load()
	bs[1].revive()
	a = waitAnswer(t, m, "app.health.test", "b revived", exactly(ips...))
	if n := bs[1].requests.Load() - before; n < testRise {
		t.Errorf("b is answered again after %d probes of the revived backend, want at least rise=%d", n, testRise)
	}
	if a.ttl != 30 {
		t.Errorf("all up again: TTL %d, want 30", a.ttl)
	}
}

// Priority groups: the lowest priority number with min_up eligible
// members answers; failover goes down the groups and failback returns.
func TestHealthPriorityFailover(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ipA, ipA2, ipB, ipC := "127.31.2.1", "127.31.2.4", "127.31.2.2", "127.31.2.3"
	port, lns := listenSamePort(t, ipA, ipA2, ipB, ipC)
	a := startBackendOn(t, lns[0], nil)
	a2 := startBackendOn(t, lns[1], nil)
	b := startBackendOn(t, lns[2], nil)
	c := startBackendOn(t, lns[3], nil)
	check := httpCheck("http", port, "")
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:   "prio",
		policy: "{strategy: weighted, ttl: 30, degraded_ttl: 5}",
		check:  check,
		members: []string{
			"{site: a, addresses: [" + ipA + "], priority: 1}",
			"{site: b, addresses: [" + ipB + "], priority: 2}",
			"{site: c, addresses: [" + ipC + "], priority: 3}",
		},
	}, {
		// min_up 2: the first group answers only while both its members do.
		name:   "minup",
		policy: "{strategy: roundrobin, ttl: 30, degraded_ttl: 5, min_up: 2}",
		check:  check,
		members: []string{
			"{site: a, addresses: [" + ipA + "], priority: 1}",
			"{site: a, addresses: [" + ipA2 + "], priority: 1}",
			"{site: b, addresses: [" + ipB + "], priority: 2}",
			"{site: c, addresses: [" + ipC + "], priority: 2}",
		},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", a.addr, a2.addr, b.addr, c.addr)
	if got := ask(t, m, "prio.health.test"); !exactly(ipA)(got) || got.ttl != 30 {
		t.Fatalf("prio: %s, want %s (priority 1) TTL 30", got, ipA)
	}
	if got := ask(t, m, "minup.health.test"); !exactly(ipA, ipA2)(got) {
		t.Fatalf("minup: %s, want both priority 1 members", got)
	}

	a.kill()
	got := waitAnswer(t, m, "prio.health.test", "priority 1 down", exactly(ipB))
	if got.ttl != 5 {
		t.Errorf("failed over to priority 2: TTL %d, want degraded_ttl 5", got.ttl)
	}
	waitAnswer(t, m, "minup.health.test", "priority 1 below min_up", exactly(ipB, ipC))

	b.kill()
	waitAnswer(t, m, "prio.health.test", "priorities 1 and 2 down", exactly(ipC))
	// minup: no group has min_up members: the first group with any answers.
	waitAnswer(t, m, "minup.health.test", "every group below min_up", exactly(ipA2))

	a.revive()
	got = waitAnswer(t, m, "prio.health.test", "failback to priority 1", exactly(ipA))
	if got.ttl != 30 {
		t.Errorf("failed back: TTL %d, want 30", got.ttl)
	}
	waitAnswer(t, m, "minup.health.test", "priority 1 back to min_up", exactly(ipA, ipA2))
	b.revive()
	waitTargets(t, m, "up", b.addr)
	if got := ask(t, m, "prio.health.test"); !exactly(ipA)(got) {
		t.Errorf("everything up again: %s, want %s", got, ipA)
	}
}

// Weights: with a member down, its share goes to the others in
// proportion to their weights.
func TestHealthWeightsRedistribute(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ips := []string{"127.31.3.1", "127.31.3.2", "127.31.3.3"}
	port, lns := listenSamePort(t, ips...)
	heavy := startBackendOn(t, lns[0], nil)
	b := startBackendOn(t, lns[1], nil)
	c := startBackendOn(t, lns[2], nil)
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:   "w",
		policy: "{strategy: weighted, ttl: 30}",
		check:  httpCheck("http", port, ""),
		members: []string{
			"{site: a, addresses: [" + ips[0] + "], weight: 2}",
			"{site: b, addresses: [" + ips[1] + "], weight: 1}",
			"{site: c, addresses: [" + ips[2] + "], weight: 3}",
		},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", heavy.addr, b.addr, c.addr)

	const n = 600
	shares := func() map[string]float64 {
		count := map[string]float64{}
		for range n {
			a := ask(t, m, "w.health.test")
			if len(a.addrs) != 1 {
				t.Fatalf("weighted: want one address, got %s", a)
			}
			count[a.addrs[0]]++
		}
		for k := range count {
			count[k] /= n
		}
		return count
	}
	// binomial sd at n=600 is at most 0.02; allow 4 sd
	near := func(got, want float64) bool { return math.Abs(got-want) <= 0.08 }
	s := shares()
	if !near(s[ips[0]], 2.0/6) || !near(s[ips[1]], 1.0/6) || !near(s[ips[2]], 3.0/6) {
		t.Errorf("all up: shares %v, want 2:1:3", s)
	}
	heavy.kill()
	waitAnswer(t, m, "w.health.test", "the weight-2 member down", func(a answer) bool {
		return len(a.addrs) == 1 && a.addrs[0] != ips[0]
	})
	waitTargets(t, m, "down", heavy.addr)
	s = shares()
	if s[ips[0]] != 0 || !near(s[ips[1]], 1.0/4) || !near(s[ips[2]], 3.0/4) {
		t.Errorf("weight-2 member down: shares %v, want 0 and 1:3 for the others", s)
	}
}

// Every member down: the down response, each type, with degraded_ttl.
func TestHealthDownResponses(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ipX, ipY := "127.31.4.1", "127.31.4.2"
	port, lns := listenSamePort(t, ipX, ipY)
	x := startBackendOn(t, lns[0], nil)
	y := startBackendOn(t, lns[1], nil)
	check := httpCheck("http", port, "")
	members := []string{"{site: a, addresses: [" + ipX + "]}", "{site: b, addresses: [" + ipY + "]}"}
	var svcs []hsvc
	for _, down := range []string{"{type: none}", "{type: all}", "{type: fallback, addresses: [192.0.2.99]}"} {
		kind := strings.Fields(strings.Trim(down, "{}"))[1]
		kind = strings.TrimSuffix(kind, ",")
		svcs = append(svcs, hsvc{
			name:    "down-" + kind,
			policy:  "{strategy: roundrobin, ttl: 30, degraded_ttl: 5, down_response: " + down + "}",
			check:   check,
			members: members,
		})
	}
	m := startHealthMeridian(t, healthConfig(t, t.TempDir(), svcs, ""))
	waitTargets(t, m, "up", x.addr, y.addr)
	for _, s := range svcs {
		if a := ask(t, m, s.name+".health.test"); !exactly(ipX, ipY)(a) {
			t.Fatalf("%s all up: %s", s.name, a)
		}
	}

	x.kill()
	y.kill()
	// Each service has its own targets (the Host header is the service
	// name): wait for each to answer its down response.
	waitAnswer(t, m, "down-none.health.test", "everything down", func(a answer) bool { return len(a.addrs) == 0 })
	waitAnswer(t, m, "down-fallback.health.test", "everything down", exactly("192.0.2.99"))
	// down-all: both members at the degraded TTL. TTL 5 alone also holds
	// while only one is down (degraded), and this service's own target
	// for y may go down a probe later than the others'.
	waitAnswer(t, m, "down-all.health.test", "everything down", func(a answer) bool { return exactly(ipX, ipY)(a) && a.ttl == 5 })
	// none: NODATA, with the SOA for negative caching
	r := exchange(t, m.DNS[0], dnsQuery{name: "down-none.health.test", qtype: dns.TypeA})
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) == 0 {
		t.Errorf("down-none with everything down: want NODATA with the SOA, got %s", describe(r))
	}
	if a := ask(t, m, "down-all.health.test"); !exactly(ipX, ipY)(a) || a.ttl != 5 {
		t.Errorf("down-all with everything down: %s, want every member with TTL 5", a)
	}
	if a := ask(t, m, "down-fallback.health.test"); !exactly("192.0.2.99")(a) || a.ttl != 5 {
		t.Errorf("down-fallback with everything down: %s, want 192.0.2.99 with TTL 5", a)
	}

	y.revive()
	for _, s := range svcs {
		if a := waitAnswer(t, m, s.name+".health.test", "y revived", exactly(ipY)); a.ttl != 5 {
			t.Errorf("%s with one member down: TTL %d, want 5", s.name, a.ttl)
		}
	}
}

// A backend that answers 503, the wrong body, or too slowly is down,
// each for its own reason.
func TestHealthBadBackends(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ips := []string{"127.31.5.1", "127.31.5.2", "127.31.5.3", "127.31.5.4"}
	port, lns := listenSamePort(t, ips...)
	var bs []*backend
	var members []string
	for i, ip := range ips {
		bs = append(bs, startBackendOn(t, lns[i], nil))
		members = append(members, fmt.Sprintf("{site: %s, addresses: [%s]}", string(rune('a'+i%3)), ip))
	}
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:    "bad",
		policy:  "{strategy: roundrobin}",
		check:   httpCheck("http", port, `path: /status, expect_status: ["200-299"], body_contains: "healthy"`),
		members: members,
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", bs[0].addr, bs[1].addr, bs[2].addr, bs[3].addr)

	var before [3]int64
	for i, mode := range []int32{modeFail, modeWrongBody, modeSlow} {
		before[i] = bs[i].requests.Load()
		bs[i].mode.Store(mode)
	}
	waitAnswer(t, m, "bad.health.test", "503, wrong body and slow backends down", exactly(ips[3]))
	h := getHealth(t, m)
	for i, want := range []string{"status", "body", "timeout"} {
		state, _, _, reason, lastErr := h.target(t, bs[i].addr)
		if state != "down" || reason != want {
			t.Errorf("%s: state %s reason %q (%s), want down for %q", bs[i].addr, state, reason, lastErr, want)
		}
		if n := bs[i].requests.Load() - before[i]; n < testFall {
			t.Errorf("%s went down after %d bad answers, want at least fall=%d", bs[i].addr, n, testFall)
		}
	}
	bs[0].mode.Store(modeOK)
	waitAnswer(t, m, "bad.health.test", "the 503 backend healthy again", exactly(ips[0], ips[3]))
}

// A flapping backend, good and bad in turn, never reaches rise or fall in
// a row: its answers do not change, whichever state it is in.
//
// Here a single probe that fails for another reason than the backend's
// answer breaks the alternation and flips the state, so the check allows
// 900 ms, not the other tests' 200 ms: a -race binary on a loaded 2-core
// machine can take longer than 200 ms to get a loopback answer, and the
// test must not depend on it.
func TestHealthFlappingBackend(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ipF, ipS := "127.31.6.1", "127.31.6.2"
	port, lns := listenSamePort(t, ipF, ipS)
	flap := startBackendOn(t, lns[0], nil)
	stable := startBackendOn(t, lns[1], nil)
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:    "flap",
		policy:  "{strategy: roundrobin}",
		check:   fmt.Sprintf("{kind: http, port: %d, interval: 1s, timeout: 900ms, rise: %d, fall: %d}", port, testRise, testFall),
		members: []string{"{site: a, addresses: [" + ipF + "]}", "{site: b, addresses: [" + ipS + "]}"},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", flap.addr, stable.addr)

	// hold checks that every answer is want while the flapping backend
	// answers flapProbes more probes (several times rise and fall).
	const flapProbes = 8
	hold := func(what string, want func(answer) bool) {
		t.Helper()
		stop := flap.requests.Load() + flapProbes
		deadline := time.Now().Add(hangGuard + flapProbes*time.Second)
		answers := 0
		for flap.requests.Load() < stop {
			if a := ask(t, m, "flap.health.test"); !want(a) {
				t.Fatalf("%s: answer changed to %s after %d stable answers", what, a, answers)
			}
			answers++
			if time.Now().After(deadline) {
				t.Fatalf("%s: the backend got only %d probes in %v", what, flap.requests.Load()-stop+flapProbes, hangGuard)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: %d answers, all the same, over %d alternating probes", what, answers, flapProbes)
	}

	flap.mode.Store(modeAlternate)
	hold("up, then flapping", exactly(ipF, ipS))
	flap.mode.Store(modeFail)
	waitAnswer(t, m, "flap.health.test", "flapping backend failing for good", exactly(ipS))
	flap.mode.Store(modeAlternate)
	hold("down, then flapping", exactly(ipS))
	flap.mode.Store(modeOK)
	waitAnswer(t, m, "flap.health.test", "flapping backend healthy for good", exactly(ipF, ipS))
}

// HTTPS: the check verifies the backend's certificate against ca_file for
// the SNI name; a certificate for another name is a TLS failure.
func TestHealthHTTPS(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dir := t.TempDir()
	ips := []string{"127.33.1.1", "127.33.1.2", "127.33.1.3"}
	port, lns := listenSamePort(t, ips...)
	ca := newTestCA(t, dir, "secure.health.test")
	wrongName := newTestCA(t, dir, "other.health.test")
	s1 := startBackendOn(t, lns[0], ca.serverConfig())
	s2 := startBackendOn(t, lns[1], ca.serverConfig())
	bad := startBackendOn(t, lns[2], wrongName.serverConfig())
	cfg := healthConfig(t, dir, []hsvc{{
		name:   "secure",
		policy: "{strategy: roundrobin}",
		// ca_file is relative to the config file's directory
		check: httpCheck("https", port, "path: /healthz, sni: secure.health.test, ca_file: "+strings.TrimPrefix(ca.pemFile, dir+"/")),
		members: []string{
			"{site: a, addresses: [" + ips[0] + "]}", "{site: b, addresses: [" + ips[1] + "]}", "{site: c, addresses: [" + ips[2] + "]}",
		},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitAnswer(t, m, "secure.health.test", "the wrong certificate down", exactly(ips[0], ips[1]))
	h := waitTargets(t, m, "up", s1.addr, s2.addr)
	if state, _, _, reason, lastErr := h.target(t, bad.addr); state != "down" || reason != "tls" {
		t.Errorf("certificate for another name: %s %q (%s), want down for tls", state, reason, lastErr)
	}
	s1.mu.Lock()
	sni := append([]string(nil), s1.sni...)
	s1.mu.Unlock()
	if len(sni) == 0 || sni[0] != "secure.health.test" {
		t.Errorf("backend saw SNI %q, want secure.health.test", sni)
	}

	s1.kill()
	waitAnswer(t, m, "secure.health.test", "s1 killed", exactly(ips[1]))
	s1.revive()
	waitAnswer(t, m, "secure.health.test", "s1 revived", exactly(ips[0], ips[1]))
}

// TCP checks, with members probed at a probe_address while answering
// their public VIPs (NAT).
func TestHealthTCPWithProbeAddress(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ips := []string{"127.34.1.1", "127.34.1.2"}
	port, lns := listenSamePort(t, ips...)
	t1 := startTCPBackendOn(t, lns[0])
	t2 := startTCPBackendOn(t, lns[1])
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:   "tcp",
		policy: "{strategy: roundrobin}",
		check:  fmt.Sprintf("{kind: tcp, port: %d, interval: %s, timeout: %s, rise: %d, fall: %d}", port, testInterval, testTimeout, testRise, testFall),
		members: []string{
			"{site: a, addresses: [192.0.2.1], probe_address: " + ips[0] + "}",
			"{site: b, addresses: [198.51.100.1], probe_address: " + ips[1] + "}",
		},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", t1.addr, t2.addr)
	if a := ask(t, m, "tcp.health.test"); !exactly("192.0.2.1", "198.51.100.1")(a) {
		t.Fatalf("all up: %s", a)
	}
	t1.kill()
	waitAnswer(t, m, "tcp.health.test", "the first probe address refuses", exactly("198.51.100.1"))
	before := t1.requests.Load()
	t1.revive()
	waitAnswer(t, m, "tcp.health.test", "the first probe address back", exactly("192.0.2.1", "198.51.100.1"))
	if n := t1.requests.Load() - before; n < testRise {
		t.Errorf("back after %d connections, want at least rise=%d", n, testRise)
	}
}

// The demo's health status endpoint at least: /api/v1/health answers
// targets and services for a config without checks too (everything up).
func TestHealthWithoutChecks(t *testing.T) {
	t.Parallel()
	watchdog(t, time.Minute)
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name: "plain", policy: "{strategy: roundrobin}",
		members: []string{"{site: a, addresses: [192.0.2.7]}"},
	}}, "")
	m := startHealthMeridian(t, cfg)
	if a := ask(t, m, "plain.health.test"); !exactly("192.0.2.7")(a) {
		t.Fatalf("unchecked service: %s", a)
	}
	h := getHealth(t, m)
	if len(h.Targets) != 0 || len(h.Services) != 1 || h.Services[0].Members[0].Health != "unknown" || h.Services[0].Members[0].Detail != "not checked" {
		t.Errorf("/api/v1/health without checks: %+v", h)
	}
	if code, body := adminCall(t, m, http.MethodGet, "/api/v1/admin", "anything", ""); code != http.StatusForbidden || !strings.Contains(body, "admin API disabled: set admin.token_file") {
		t.Errorf("admin API without a token: %d %s", code, body)
	}
}

// fast_interval: once a probe of an up member fails, the member is
// re-probed every fast_interval, so it leaves the answers (fall-1) fast
// intervals after its first failed probe instead of (fall-1) intervals;
// a down member's first good probe brings it back the same way. With
// interval 2s, fast_interval 100ms and fall and rise 3 the two differ by
// seconds (about 0.2 s against 4 s), so the bound, one interval, holds on
// a loaded machine and fails at once without fast re-probing.
func TestHealthFastReprobe(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ipA, ipB := "127.31.9.1", "127.31.9.2"
	port, lns := listenSamePort(t, ipA, ipB)
	a := startBackendOn(t, lns[0], nil)
	b := startBackendOn(t, lns[1], nil)
	const interval, fall, rise = 2 * time.Second, 3, 3
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:   "fast",
		policy: "{strategy: weighted, ttl: 30}",
		check: fmt.Sprintf("{kind: http, port: %d, interval: %v, fast_interval: 100ms, timeout: 500ms, rise: %d, fall: %d}",
			port, interval, rise, fall),
		members: []string{"{site: a, addresses: [" + ipA + "], priority: 1}", "{site: b, addresses: [" + ipB + "], priority: 2}"},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", a.addr, b.addr)
	waitAnswer(t, m, "fast.health.test", "A up", exactly(ipA))

	// nextProbe waits for the backend's next request (the mode is set
	// already, so that request sees it) and says when it came.
	nextProbe := func(be *backend) (time.Time, int64) {
		t.Helper()
		n := be.requests.Load()
		deadline := time.Now().Add(hangGuard)
		for be.requests.Load() == n {
			if time.Now().After(deadline) {
				t.Fatalf("%s got no probe in %v", be.addr, hangGuard)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return time.Now(), n
	}

	a.mode.Store(modeFail)
	failed, before := nextProbe(a)
	waitAnswer(t, m, "fast.health.test", "A failing", exactly(ipB))
	if took := time.Since(failed); took >= interval {
		t.Errorf("A left the answers %v after its first failed probe, want less than the interval %v (fast re-probes)", took, interval)
	}
	if n := a.requests.Load() - before; n < fall {
		t.Errorf("A left the answers after %d failed probes, want at least fall=%d", n, fall)
	}

	a.mode.Store(modeOK)
	good, before := nextProbe(a)
	waitAnswer(t, m, "fast.health.test", "A healthy again", exactly(ipA))
	if took := time.Since(good); took >= interval {
		t.Errorf("A came back %v after its first good probe, want less than the interval %v (fast re-probes)", took, interval)
	}
	if n := a.requests.Load() - before; n < rise {
		t.Errorf("A came back after %d good probes, want at least rise=%d", n, rise)
	}
}
