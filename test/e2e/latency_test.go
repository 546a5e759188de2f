package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestLatencyStrategy: a service of strategy latency answers the member
// whose backend this site's probes reach fastest. Two backends on
// loopback answer their probes after 5 ms and 100 ms (far apart, so that
// a probe slowed by a loaded machine cannot tie them); the answer is the
// fast one, every time; when the delays swap, the answer follows once the
// smoothed round-trip times cross; explain shows both RTTs.
func TestLatencyStrategy(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	ipA, ipB := "127.31.10.1", "127.31.10.2"
	port, lns := listenSamePort(t, ipA, ipB)
	a := startBackendOn(t, lns[0], nil)
	b := startBackendOn(t, lns[1], nil)
	fast, slow := int64(5*time.Millisecond), int64(100*time.Millisecond)
	a.delay.Store(fast)
	b.delay.Store(slow)
	cfg := healthConfig(t, t.TempDir(), []hsvc{{
		name:    "lat",
		policy:  "{strategy: latency, ttl: 5, latency_tie_ms: 10}",
		check:   fmt.Sprintf("{kind: http, port: %d, interval: 300ms, timeout: 250ms, rise: 1, fall: 2}", port),
		members: []string{"{site: a, addresses: [" + ipA + "]}", "{site: b, addresses: [" + ipB + "]}"},
	}}, "")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", a.addr, b.addr)
	// Until both round-trip times reach the answers (a second at most),
	// every candidate is answered.
	deadline := time.Now().Add(hangGuard)
	for len(latencyExplain(t, m)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("explain shows no round-trip times after %v: %v", hangGuard, latencyExplain(t, m))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// steady waits for the answer to be want and to stay so: while the
	// smoothed times cross they pass through the tie band, where both
	// answer, so the first answer of want is not yet the end. It then
	// takes 30 answers in a row of want, within hangGuard.
	steady := func(want, what string) {
		t.Helper()
		waitAnswer(t, m, "lat.health.test", what, exactly(want))
		deadline := time.Now().Add(hangGuard)
		for run := 0; run < 30; {
			got := ask(t, m, "lat.health.test")
			if exactly(want)(got) {
				run++
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: answered %s after %v, want %s only (30 in a row)", what, got, hangGuard, want)
			}
			run = 0
			time.Sleep(50 * time.Millisecond)
		}
	}
	steady(ipA, "A 5 ms, B 100 ms")
	rtts := latencyExplain(t, m)
	if rtts[ipA] <= 0 || rtts[ipB] <= rtts[ipA]+50 {
		t.Errorf("explain's round-trip times: %v, want A about 5 ms and B about 100 ms", rtts)
	}

	// The paths change: B becomes the fast one.
	a.delay.Store(slow)
	b.delay.Store(fast)
	start := time.Now()
	steady(ipB, "after the swap, A 100 ms, B 5 ms")
	t.Logf("the answer followed the swap in %v (probes every 300ms, averages refreshed every second)", time.Since(start).Round(10*time.Millisecond))
}

// latencyExplain returns explain's round-trip time per member address for
// lat.health.test.
func latencyExplain(t *testing.T, m *meridian) map[string]float64 {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/explain?name=lat.health.test&type=A&client=127.0.0.1")
	if code != 200 {
		t.Fatalf("explain: %d %s", code, body)
	}
	var r struct {
		Trace struct {
			Members []struct {
				Member string   `json:"member"`
				RTTMs  *float64 `json:"rtt_ms"`
			} `json:"members"`
		} `json:"trace"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("explain: %v\n%s", err, body)
	}
	out := map[string]float64{}
	for _, mv := range r.Trace.Members {
		if mv.RTTMs != nil {
			out[hostOfMember(mv.Member)] = *mv.RTTMs
		}
	}
	return out
}

// hostOfMember is the address of a member ID "site/address".
func hostOfMember(id string) string {
	for i := range id {
		if id[i] == '/' {
			return id[i+1:]
		}
	}
	return id
}
