package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Load shedding (issue #12) with real parts: `meridian serve` with the
// demo's three sites, clients placed at Dublin by a geo rule (nearest
// eu-west, next us-east), queried over UDP with ECS; the members probed
// at `meridian demo-backends` on loopback IPs, whose load is set with
// POST /load and read from the probes' X-Load header, or by a real
// Prometheus scraping the backends' /metrics. Every change is awaited by
// polling (hangGuard only turns a hang into a failure); how long it took
// is logged, never asserted.

// TestLoadSheddingHeader walks the load of eu-west through the watermarks
// of docs/configuration.md ("Load shedding"), with persistence: over
// high, remembered networks stay and new ones move; over the hard limit
// every network moves; back between the watermarks nothing returns
// (hysteresis); below low everything returns; halfway, about half the new
// networks move, with the persistence mask as the ECS scope.
func TestLoadSheddingHeader(t *testing.T) {
	t.Parallel()
	watchdog(t, 4*time.Minute)
	dir := t.TempDir()
	port, backends := startLoadBackends(t, []string{"127.47.1.1", "127.47.2.1", "127.47.3.1"})
	cfg := loadConfig(t, dir, port, backends, loadSpec{
		policyExtra: "persistence: {enabled: true, ipv4_mask: 24}",
		load:        "{low: 0.6, high: 0.9, hard_limit: 0.97}",
		check:       `load_from: "header:X-Load", interval: 1s, timeout: 500ms, fall: 2, rise: 1`,
	})
	e := &loadEnv{m: startMeridian(t, cfg, []string{"127.0.0.1:0"}, "127.0.0.1:0"), backends: backends}

	// a. Every target up, every member's default load (0.1) read by the
	// probes; 100 networks answered eu-west, and so remembered there.
	waitTargets(t, e.m, "up", backends["us-east"], backends["eu-west"], backends["ap-south"])
	e.waitLoad(t, "every member's load 0.1 from the probe", func(ms map[string]loadMember) bool {
		for _, s := range loadSites {
			if !ms[s].hasValue(0.1, "probe") {
				return false
			}
		}
		return true
	})
	remembered := nets(1, 100)
	e.expectAll(t, "a. at load 0.1, 10.1.N.0/24", remembered, "eu-west")

	// b. Over high (0.93), under the hard limit (0.97): new networks go
	// to the next nearest site, remembered ones stay. Each try of the
	// poll is a fresh network (10.20.0.0/14): a network asked before the
	// reading arrives would be answered eu-west and remembered there.
	since := e.setLoad(t, "eu-west", 0.93)
	e.waitSite(t, "b. eu-west at 0.93", "us-east", since, func(i int) string { return netN(20+i/256, i%256) })
	if a := e.ask(t, netN(2, 0)); a.site != "us-east" {
		t.Errorf("b. eu-west at 0.93: the never-asked 10.2.0.0/24 -> %s (%s), want us-east", orNone(a.site), a.desc)
	}
	e.expectAll(t, "b. eu-west at 0.93, new networks 10.2.N.0/24", nets(2, 100), "us-east")
	e.expectAll(t, "b. eu-west at 0.93, remembered networks 10.1.N.0/24 (persisted, under the hard limit)", remembered, "eu-west")
	ms := e.members(t)
	if eu := ms["eu-west"]; !eu.hasValue(0.93, "probe") || !eu.Load.Over || eu.Load.Hard || eu.Load.Shed != 1 {
		t.Errorf("b. /api/v1/load: %s; want value 0.93 from the probe, over, shed 1, under the hard limit", eu)
	}
	for _, s := range []string{"us-east", "ap-south"} {
		if m := ms[s]; !m.hasValue(0.1, "probe") || m.Load.Over || m.Load.Shed != 0 {
			t.Errorf("b. /api/v1/load: %s; want value 0.1 from the probe, nothing shed", m)
		}
	}
	// The metrics say the same, per member.
	if code, metrics := proctest.HTTP(t, "GET", e.m.HTTP+"/metrics"); code != 200 ||
		!strings.Contains(metrics, `meridian_member_load{member="eu-west/198.51.100.60",service="shop.load.test.",site="eu-west"} 0.93`) ||
		!strings.Contains(metrics, `meridian_member_load_shed_ratio{member="eu-west/198.51.100.60",service="shop.load.test.",site="eu-west"} 1`) ||
		!strings.Contains(metrics, `meridian_member_load_age_seconds{member="eu-west/198.51.100.60",service="shop.load.test.",site="eu-west",source="probe"}`) {
		t.Errorf("b. /metrics: want eu-west's load 0.93, shed ratio 1 and the reading's age; got %d:\n%s", code, grepLines(metrics, "meridian_member_load"))
	}
	ex, body := e.explain(t, "10.2.5.0/24")
	found := false
	for _, v := range ex.Trace.Members {
		if v.Site != "eu-west" {
			continue
		}
		found = true
		if v.Verdict != "shed" || v.Load == nil || v.Load.Value == nil || *v.Load.Value != 0.93 {
			t.Errorf("b. explain 10.2.5.0/24: eu-west's verdict %q, load %+v; want \"shed\" with load value 0.93\n%s", v.Verdict, v.Load, body)
		}
	}
	if !found || ex.Answer.Site != "us-east" {
		t.Errorf("b. explain 10.2.5.0/24: answered %q, eu-west listed %v; want us-east, with eu-west shed\n%s", ex.Answer.Site, found, body)
	}

	// c. Over the hard limit (0.98): the remembered networks move too.
	since = e.setLoad(t, "eu-west", 0.98)
	e.waitSite(t, "c. eu-west at 0.98 (hard limit 0.97)", "us-east", since, func(int) string { return netN(1, 0) })
	e.expectAll(t, "c. eu-west at 0.98, remembered networks 10.1.N.0/24", remembered, "us-east")
	e.expectAll(t, "c. eu-west at 0.98, 10.2.N.0/24", nets(2, 100), "us-east")
	if eu := e.members(t)["eu-west"]; !eu.hasValue(0.98, "probe") || !eu.Load.Over || !eu.Load.Hard {
		t.Errorf("c. /api/v1/load: %s; want value 0.98 from the probe, over, at the hard limit", eu)
	}

	// d. Between the watermarks (0.7) after being over: still over
	// (hysteresis). Once the reading is in, a few more probes and
	// refreshes pass, and new networks still go to us-east.
	since = e.setLoad(t, "eu-west", 0.7)
	e.waitLoad(t, "d. eu-west's reading 0.7 in the decision", func(ms map[string]loadMember) bool {
		return ms["eu-west"].decides(0.7, "probe")
	})
	t.Logf("d. the reading 0.7 reached the decision within %v", time.Since(since).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	if eu := e.members(t)["eu-west"]; !eu.hasValue(0.7, "probe") || !eu.Load.Over || eu.Load.Shed != 1 {
		t.Errorf("d. /api/v1/load: %s; want value 0.7, still over high (hysteresis), shed 1", eu)
	}
	e.expectAll(t, "d. eu-west at 0.7 after 0.98 (hysteresis), new networks 10.3.N.0/24", nets(3, 50), "us-east")
	// The remembered networks let go at the hard limit and were
	// forgotten: under it again, they stay moved until the load is below
	// low, rather than bouncing back.
	e.expectAll(t, "d. eu-west at 0.7 after 0.98, the networks remembered before (forgotten at the hard limit)", remembered, "us-east")

	// e. Below low (0.3): everything returns to eu-west.
	since = e.setLoad(t, "eu-west", 0.3)
	e.waitSite(t, "e. eu-west at 0.3", "eu-west", since, func(int) string { return netN(3, 0) })
	e.expectAll(t, "e. eu-west at 0.3, 10.1.N.0/24", remembered, "eu-west")
	e.expectAll(t, "e. eu-west at 0.3, 10.2.N.0/24", nets(2, 100), "eu-west")
	e.expectAll(t, "e. eu-west at 0.3, 10.3.N.0/24", nets(3, 100), "eu-west")
	if eu := e.members(t)["eu-west"]; !eu.hasValue(0.3, "probe") || eu.Load.Over || eu.Load.Shed != 0 {
		t.Errorf("e. /api/v1/load: %s; want value 0.3, not over, nothing shed", eu)
	}

	// f. Halfway between the watermarks (0.75), coming from below: about
	// half the fresh networks move, each asked once (one answered eu-west
	// is remembered there), none to ap-south, all with the persistence
	// mask as the ECS scope.
	since = e.setLoad(t, "eu-west", 0.75)
	got := e.waitLoad(t, "f. eu-west's reading 0.75 in the decision", func(ms map[string]loadMember) bool {
		return ms["eu-west"].decides(0.75, "probe")
	})
	t.Logf("f. the reading 0.75 reached the decision within %v: %s", time.Since(since).Round(time.Millisecond), got["eu-west"])
	if eu := got["eu-west"]; eu.Load.Over || eu.Load.Shed < 0.49 || eu.Load.Shed > 0.51 {
		t.Errorf("f. /api/v1/load: %s; want shed 0.5, not over", eu)
	}
	fresh := nets(4, 200)
	count := map[string]int{}
	var badScope []string
	for n, a := range e.askAll(t, fresh) {
		count[orNone(a.site)]++
		if a.scope != 24 {
			badScope = append(badScope, n+": "+a.desc)
		}
	}
	t.Logf("f. eu-west at 0.75: 10.4.N.0/24 (N<200) answered %v", count)
	if us := count["us-east"]; us < 60 || us > 140 || count["eu-west"]+us != len(fresh) {
		t.Errorf("f. eu-west at 0.75: fresh networks answered %v; want 30%%..70%% of %d us-east, the rest eu-west, none elsewhere", count, len(fresh))
	}
	if len(badScope) > 0 {
		t.Errorf("f. %d answers without ECS scope /24 (the persistence mask), e.g.:\n  %s", len(badScope), strings.Join(badScope[:min(5, len(badScope))], "\n  "))
	}
}

// TestLoadSheddingPrometheus reads the load from a real Prometheus only:
// it scrapes the backends' demo_backend_load, and the service matches
// each sample's backend label to the member's site. No persistence, and
// a health check without load_from.
func TestLoadSheddingPrometheus(t *testing.T) {
	t.Parallel()
	watchdog(t, 4*time.Minute)
	dir := t.TempDir()
	port, backends := startLoadBackends(t, []string{"127.47.11.1", "127.47.12.1", "127.47.13.1"})
	var targets []string
	for _, s := range loadSites {
		targets = append(targets, backends[s])
	}
	prom := startPrometheus(t, targets)
	prom.waitSeries(t, "demo_backend_load")

	cfg := loadConfig(t, dir, port, backends, loadSpec{
		load:  "{low: 0.6, high: 0.9, prometheus: 'demo_backend_load', match_label: backend, match_on: site}",
		check: "interval: 1s, timeout: 500ms, fall: 2, rise: 1",
		extra: "health:\n  prometheus: {url: " + prom.url + ", interval: 1s, timeout: 900ms}\n",
	})
	e := &loadEnv{m: startMeridian(t, cfg, []string{"127.0.0.1:0"}, "127.0.0.1:0"), backends: backends}

	waitTargets(t, e.m, "up", backends["us-east"], backends["eu-west"], backends["ap-south"])
	e.waitLoad(t, "every member's load 0.1 from Prometheus", func(ms map[string]loadMember) bool {
		for _, s := range loadSites {
			if !ms[s].hasValue(0.1, "prometheus") {
				return false
			}
		}
		return true
	})
	e.expectAll(t, "at load 0.1, 10.5.N.0/24", nets(5, 50), "eu-west")

	since := e.setLoad(t, "eu-west", 0.95)
	e.waitSite(t, "eu-west at 0.95 (Prometheus)", "us-east", since, func(int) string { return netN(5, 0) })
	e.expectAll(t, "eu-west at 0.95, 10.5.N.0/24", nets(5, 50), "us-east")
	if eu := e.members(t)["eu-west"]; !eu.hasValue(0.95, "prometheus") || !eu.Load.Over {
		t.Errorf("/api/v1/load: %s; want value 0.95 from prometheus, over", eu)
	}

	since = e.setLoad(t, "eu-west", 0.2)
	e.waitSite(t, "eu-west at 0.2 (Prometheus)", "eu-west", since, func(int) string { return netN(5, 0) })
	e.expectAll(t, "eu-west at 0.2, 10.5.N.0/24", nets(5, 50), "eu-west")
	if eu := e.members(t)["eu-west"]; !eu.hasValue(0.2, "prometheus") || eu.Load.Over || eu.Load.Shed != 0 {
		t.Errorf("/api/v1/load: %s; want value 0.2 from prometheus, nothing shed", eu)
	}
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
