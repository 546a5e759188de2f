package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestDemoBackends runs the real command on two loopback addresses with
// port 0 and --ready-file: both serve on the one port the kernel chose for
// the first, each fails and recovers on its own, and SIGTERM ends it with
// exit 0 and removes the ready file.
func TestDemoBackends(t *testing.T) {
	port, p := proctest.StartDemoBackends(t, binary(t), proctest.MeridianEnv(),
		[]string{"127.0.0.1", "127.0.0.2"}, []string{"one", "two"})
	one := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	two := "http://" + net.JoinHostPort("127.0.0.2", strconv.Itoa(port))
	for _, u := range []string{one, two} {
		if code, body := proctest.HTTP(t, "GET", u+"/healthz"); code != http.StatusOK || !strings.HasPrefix(body, "ok: ") {
			t.Fatalf("GET %s/healthz: %d %q", u, code, body)
		}
	}
	proctest.HTTP(t, "POST", two+"/fail")
	if code, _ := proctest.HTTP(t, "GET", two+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("two after /fail: %d, want 503", code)
	}
	if code, _ := proctest.HTTP(t, "GET", one+"/healthz"); code != http.StatusOK {
		t.Errorf("one after two's /fail: %d, want 200", code)
	}
	proctest.HTTP(t, "POST", two+"/recover")
	if code, _ := proctest.HTTP(t, "GET", two+"/healthz"); code != http.StatusOK {
		t.Errorf("two after /recover: %d, want 200", code)
	}

	readyFile := p.Cmd.Args[3] // demo-backends --ready-file FILE ...
	if _, err := os.Stat(readyFile); err != nil {
		t.Fatalf("ready file while serving: %v", err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(waitBound); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want 0", err)
	}
	if _, err := os.Stat(readyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ready file left behind after exit: %v", err)
	}
}

// TestDemoBackendsRefuses: a wrong argument is a usage error naming it,
// and a ready file that cannot be written ends the command (whoever asked
// for it would wait for ever).
func TestDemoBackendsRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo-backends", "127.0.0.1:0=a", "127.0.0.2"}, exitUsage, `argument 2 "127.0.0.2": want ADDR:PORT[=NAME]`},
		{[]string{"demo-backends", "127.0.0.1:http2x=a"}, exitUsage, `argument 1 "127.0.0.1:http2x=a": port "http2x"`},
		{[]string{"demo-backends", "--ready-file", filepath.Join(t.TempDir(), "no", "dir", "r.json"), "127.0.0.1:0"}, exitFail, "--ready-file: "},
	} {
		r := runBinary(t, proctest.MeridianEnv(), tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d (want %d), stderr lacks %q:\n%s", tc.args, r.code, tc.code, tc.want, r.stderr)
		}
	}
}

// TestDemoBackendsPicksAgain: when the port the kernel chose for the first
// address is held by another process on a later one, the command lets the
// kernel choose again instead of failing. The clash is real: on the first
// attempt the listen function below takes the second address's port itself
// just before the command tries it.
func TestDemoBackendsPicksAgain(t *testing.T) {
	specs, err := parseDemoBackends([]string{"127.0.0.1:0=one", "127.0.0.2:0=two"})
	if err != nil {
		t.Fatal(err)
	}
	var squatter net.Listener
	attempts := 0
	listen := func(network, addr string) (net.Listener, error) {
		if strings.HasPrefix(addr, "127.0.0.1:") {
			attempts++
		}
		if attempts == 1 && strings.HasPrefix(addr, "127.0.0.2:") {
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			squatter = l
			t.Cleanup(func() { squatter.Close() })
		}
		return net.Listen(network, addr)
	}
	lns, err := listenDemoBackends(specs, listen)
	if err != nil {
		t.Fatalf("listenDemoBackends: %v", err)
	}
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	// At least 2: another process (a test of another package, run in
	// parallel) may hold the next port the kernel offers on 127.0.0.2
	// too, and the command then rightly tries once more.
	if attempts < 2 || squatter == nil {
		t.Fatalf("%d attempts (squatter %v), want 2 or more: a clash, then another port", attempts, squatter != nil)
	}
	p0, p1 := lns[0].Addr().(*net.TCPAddr).Port, lns[1].Addr().(*net.TCPAddr).Port
	if p0 != p1 || p0 == squatter.Addr().(*net.TCPAddr).Port {
		t.Errorf("ports %d and %d (the clash was on %d): want one new port", p0, p1, squatter.Addr().(*net.TCPAddr).Port)
	}

	// A port given on the command line is the user's choice: a clash on
	// it is an error, never silently another port.
	fixed, err := parseDemoBackends([]string{"127.0.0.1:0=one", squatter.Addr().String() + "=two"})
	if err != nil {
		t.Fatal(err)
	}
	if lns, err := listenDemoBackends(fixed, net.Listen); !errors.Is(err, syscall.EADDRINUSE) {
		for _, l := range lns {
			l.Close()
		}
		t.Errorf("a taken fixed port: %v, want address already in use", err)
	}
}
