package proctest

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ServeReady is what `meridian serve --ready-file FILE` writes once its
// listeners are bound: with port 0 on the command line, the only place a
// test learns the ports.
type ServeReady struct {
	DNSUDP []string `json:"dns_udp"`
	DNSTCP []string `json:"dns_tcp"`
	HTTP   string   `json:"http"` // host:port
	PID    int      `json:"pid"`
}

// WaitServeReady waits up to timeout for p, a `meridian serve
// --ready-file path`, to write path, and decodes it.
func WaitServeReady(p *Proc, path string, timeout time.Duration) (ServeReady, error) {
	var r ServeReady
	b, err := p.WaitFile(path, timeout)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: ready file %s: %v\n%s", p.Name, path, err, b)
	}
	if len(r.DNSUDP) == 0 || len(r.DNSUDP) != len(r.DNSTCP) || r.HTTP == "" || r.PID != p.Pid() {
		return r, fmt.Errorf("%s: ready file %s is incomplete (want DNS over UDP and TCP, HTTP and pid %d):\n%s", p.Name, path, p.Pid(), b)
	}
	return r, nil
}

// StartDemoBackends runs `bin demo-backends` with one backend per ip, named
// names[i], all on one port, and waits until each says it serves. The demo
// config has one health-check port for all sites, and demo-backends cannot
// choose a port common to several addresses itself, so the port is chosen
// here (PortFreeOn) and chosen again when another process took it first.
func StartDemoBackends(t testing.TB, bin string, env []string, ips, names []string) (int, *Proc) {
	t.Helper()
	if len(ips) != len(names) {
		t.Fatalf("StartDemoBackends: %d addresses, %d names", len(ips), len(names))
	}
	var lastErr error
	for range 5 {
		port, err := PortFreeOn(ips...)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"demo-backends"}
		var lines []string
		for i, ip := range ips {
			hp := net.JoinHostPort(ip, strconv.Itoa(port))
			args = append(args, hp+"="+names[i])
			lines = append(lines, "addr="+hp+" ")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		p := Start(t, "demo-backends", cmd)
		lastErr = p.WaitOutput(30*time.Second, "a serving line for every backend", func(out string) bool {
			for _, l := range lines {
				if !strings.Contains(out, l) {
					return false
				}
			}
			return true
		})
		if lastErr == nil {
			return port, p
		}
		if !p.Exited() || !strings.Contains(p.Out.String(), "address already in use") {
			break
		}
	}
	t.Fatalf("demo-backends: %v", lastErr)
	return 0, nil
}
