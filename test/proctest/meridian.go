package proctest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MeridianEnv is the test process's environment without MERIDIAN_*
// variables, which would override the flags and files a test gives the
// binary (a developer's shell cannot change the results), then extra.
func MeridianEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MERIDIAN_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

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

// DemoReady is what `meridian demo-backends --ready-file FILE` writes once
// every backend serves.
type DemoReady struct {
	Backends []struct {
		Name string `json:"name"`
		Addr string `json:"addr"` // host:port
	} `json:"backends"`
	PID int `json:"pid"`
}

// StartDemoBackends runs `bin demo-backends` with one backend per ip, named
// names[i], all on one port, and returns that port once the ready file
// says every backend serves. The port is the kernel's choice (port 0): the
// command binds it on the first address and the same port on the others
// (the demo config has one health-check port for all sites), choosing
// again itself if another process holds it on one of them.
func StartDemoBackends(t testing.TB, bin string, env []string, ips, names []string) (int, *Proc) {
	t.Helper()
	if len(ips) != len(names) || len(ips) == 0 {
		t.Fatalf("StartDemoBackends: %d addresses, %d names", len(ips), len(names))
	}
	readyFile := filepath.Join(t.TempDir(), "demo-backends.json")
	args := []string{"demo-backends", "--ready-file", readyFile}
	for i, ip := range ips {
		args = append(args, net.JoinHostPort(ip, "0")+"="+names[i])
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p := Start(t, "demo-backends", cmd)
	r, err := WaitDemoReady(p, readyFile, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Backends) != len(ips) {
		t.Fatalf("demo-backends: ready file lists %d backends, want %d: %+v", len(r.Backends), len(ips), r.Backends)
	}
	port := 0
	for i, b := range r.Backends {
		host, portStr, err := net.SplitHostPort(b.Addr)
		if err != nil || host != ips[i] || b.Name != names[i] {
			t.Fatalf("demo-backends: backend %d is %s on %s, want %s on %s", i, b.Name, b.Addr, names[i], ips[i])
		}
		n, _ := strconv.Atoi(portStr)
		if i > 0 && n != port {
			t.Fatalf("demo-backends: %s and %s: want one port", r.Backends[0].Addr, b.Addr)
		}
		port = n
	}
	return port, p
}

// WaitDemoReady waits up to timeout for p, a `meridian demo-backends
// --ready-file path`, to write path, and decodes it.
func WaitDemoReady(p *Proc, path string, timeout time.Duration) (DemoReady, error) {
	var r DemoReady
	b, err := p.WaitFile(path, timeout)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: ready file %s: %v\n%s", p.Name, path, err, b)
	}
	if len(r.Backends) == 0 || r.PID != p.Pid() {
		return r, fmt.Errorf("%s: ready file %s is incomplete (want the backends and pid %d):\n%s", p.Name, path, p.Pid(), b)
	}
	return r, nil
}
