package e2e

import (
	"bufio"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Helpers of lifecycle_test.go: a small config, a process stopped the way
// Kubernetes stops it, check-config under a time bound, FIFOs and metrics.

// lifeZone is the zone of the lifecycle tests; app.life.test. answers
// 192.0.2.1 (site a) and 192.0.2.2 (site b), round robin, TTL 30, no
// health checks (both members are up).
const lifeZone = `zones:
  - name: life.test.
    soa: {mname: ns1.life.test., rname: hostmaster.life.test., serial: 1, minimum: 60}
    nameservers: [{name: ns1.life.test., addresses: [127.0.0.1]}]
sites:
  - {name: a, location: {lat: 39.04, lon: -77.49, country: US, continent: NA}}
  - {name: b, location: {lat: 53.35, lon: -6.26, country: IE, continent: EU}}
`

// lifeServices is lifeZone's services section with the app's TTL.
func lifeServices(ttl int) string {
	return fmt.Sprintf(`services:
  - name: app.life.test.
    policy: {strategy: roundrobin, ttl: %d}
    members:
      - {site: a, addresses: [192.0.2.1]}
      - {site: b, addresses: [192.0.2.2]}
`, ttl)
}

// lifeConfig is the whole file: zone, sites, the app with TTL 30, then
// extra top-level YAML.
func lifeConfig(extra string) string { return lifeZone + lifeServices(30) + extra }

// makeFIFO creates a named pipe that nobody ever writes to: opening it
// for reading blocks until a writer comes, that is for ever.
func makeFIFO(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatalf("mkfifo %s: %v", p, err)
	}
	return p
}

// checkConfigBound is how long check-config may take on a small file,
// with room for -race and a loaded machine; a hang shows as a timeout.
const checkConfigBound = 15 * time.Second

// checkConfig runs `meridian check-config path` and returns its output
// and exit code. A run that does not end within checkConfigBound fails
// the test: check-config must never hang on what the file points at.
func checkConfig(t *testing.T, path string) (string, int) {
	t.Helper()
	start := time.Now()
	out, err := run(t, checkConfigBound, meridianBin, "check-config", path)
	if time.Since(start) >= checkConfigBound {
		t.Fatalf("check-config %s still running after %v (killed): it must not block on a configured path\noutput so far:\n%s", path, checkConfigBound, out)
	}
	return out, exitCode(err)
}

// stopBound is how long a SIGTERM'd server may take to exit: the gossip
// leave waits at most a few seconds for its broadcast.
const stopBound = 20 * time.Second

// terminate sends SIGTERM to the server alone, as the kubelet does, and
// returns its exit code and its whole output once it has exited.
func terminate(t *testing.T, m *meridian) (int, string) {
	t.Helper()
	if m.Exited() {
		t.Fatalf("meridian exited before SIGTERM (%v):\n%s", m.Err(), m.Out.String())
	}
	if err := m.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-m.Done():
	case <-time.After(stopBound):
		t.Fatalf("meridian still running %v after SIGTERM:\n%s", stopBound, m.Out.String())
	}
	return exitCode(m.Err()), m.Out.String()
}

// metric is the value of one sample of the Prometheus text exposition at
// /metrics: name with its labels exactly as exposed
// (`meridian_config_reloads_total{result="failure"}`); -1 when absent.
func metric(t *testing.T, m *meridian, sample string) float64 {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", m.HTTP+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: status %d", code)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || name != sample {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			t.Fatalf("/metrics: %s: %v", sample, err)
		}
		return v
	}
	return -1
}

// waitMetric polls sample until it reaches at least min; false when it
// has not within bound.
func waitMetric(t *testing.T, m *meridian, sample string, min float64, bound time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(bound)
	for metric(t, m, sample) < min {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
