package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Set by TestMain.
var (
	repoRoot    string // the checkout (two levels up from here)
	meridianBin string // the binary under test
)

// TestMain builds cmd/meridian once (with -race when the tests run with it,
// so data races in the server fail these tests too). MERIDIAN_BIN skips the
// build and tests that binary instead.
func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = root
	if b := os.Getenv("MERIDIAN_BIN"); b != "" {
		meridianBin = b
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "meridian-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	meridianBin = filepath.Join(dir, "meridian")
	if err := proctest.BuildMeridian(filepath.Join(root, "cmd", "meridian"), meridianBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// watchdog fails the whole run with every goroutine's stack if the test is
// still running after d: a hang in a test of this package ends in minutes,
// not at go test's global timeout. Subprocesses die with the test binary
// (Pdeathsig, see test/proctest).
func watchdog(t *testing.T, d time.Duration) {
	t.Helper()
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		panic(fmt.Sprintf("e2e watchdog: %s still running after %v", name, d))
	})
	t.Cleanup(func() { timer.Stop() })
}

// freePort returns a port that is free for both UDP and TCP on ip, for a
// program that cannot listen on port 0 and report the port it bound
// (proctest.PortFreeOn says which). meridian serve can: give it ip:0.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	port, err := proctest.PortFreeOn(ip)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startOnFreePort starts a daemon that cannot listen on port 0 (knotd,
// unbound, Prometheus) on a free port of ip: start starts it on a port
// (proctest.Start) and waits until it is ready. Between freePort and the
// daemon's bind another process may take the port; when the daemon
// exited saying so ("in use"), a port is chosen again, three times at the
// most. Any other error fails the test.
func startOnFreePort(t *testing.T, name, ip string, start func(port int) (*proctest.Proc, error)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(t, ip)
		p, err := start(port)
		if err == nil {
			return
		}
		if attempt < 3 && p.Exited() && strings.Contains(p.Out.String(), "in use") {
			t.Logf("%s: port %d was taken meanwhile; choosing again", name, port)
			continue
		}
		t.Fatal(err)
	}
}

func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	return proctest.WriteFile(t, filepath.Join(dir, name), content)
}

// meridian is one running `meridian serve`.
type meridian struct {
	*proctest.Proc
	DNS  []string // where it listens for DNS (UDP and TCP), host:port
	HTTP string   // http://host:port
}

// startMeridian runs `meridian serve --config cfg` with the DNS and HTTP
// listeners given on the command line, and waits until /readyz says 200 and
// the first DNS address answers. Give port 0 (127.0.0.1:0): the server
// writes the ports it bound to its --ready-file, and DNS and HTTP are
// read from there, so no other process can take a port between the test
// choosing it and the server binding it.
func startMeridian(t *testing.T, cfg string, dnsAddrs []string, httpAddr string, extra ...string) *meridian {
	t.Helper()
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	args := []string{"serve", "--config", cfg, "--dns-listen", strings.Join(dnsAddrs, ","), "--http-listen", httpAddr, "--ready-file", readyFile}
	args = append(args, extra...)
	cmd := exec.Command(meridianBin, args...)
	cmd.Env = proctest.MeridianEnv()
	p := proctest.Start(t, "meridian", cmd)
	ready, err := proctest.WaitServeReady(p, readyFile, startTimeout)
	if err != nil {
		t.Fatal(err)
	}
	m := &meridian{Proc: p, DNS: ready.DNSUDP, HTTP: "http://" + ready.HTTP}
	m.waitReady(t, startTimeout)
	return m
}

// startTimeout bounds a server's start: a -race binary on a loaded 2-core
// machine can take seconds.
const startTimeout = 60 * time.Second

func (m *meridian) waitReady(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	hc := &http.Client{Timeout: time.Second}
	var last string
	for time.Now().Before(deadline) {
		if m.Exited() {
			t.Fatalf("meridian exited before it was ready (%v):\n%s", m.Err(), m.Out.String())
		}
		resp, err := hc.Get(m.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// ready: the DNS listener must answer too (any rcode)
				c := &dns.Client{Net: "udp", Timeout: time.Second}
				q := new(dns.Msg)
				q.SetQuestion(".", dns.TypeSOA)
				if _, _, err := c.Exchange(q, m.DNS[0]); err == nil {
					return
				} else {
					last = "dns: " + err.Error()
				}
			} else {
				last = "readyz: " + resp.Status
			}
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("meridian not ready after %v (last: %s):\n%s", d, last, m.Out.String())
}

// run runs a command with a timeout (its whole process group killed at
// the timeout) and returns its combined output and error.
func run(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = proctest.MeridianEnv()
	return proctest.Run(timeout, cmd)
}

// ---- DNS helpers (miekg/dns) ----

// dnsQuery is one question, optionally with an ECS option.
type dnsQuery struct {
	name   string
	qtype  uint16
	ecs    string // "81.2.69.0/24", "" for none
	net    string // "udp" (default) or "tcp"
	noEDNS bool
}

func (q dnsQuery) String() string {
	s := q.name + " " + dns.TypeToString[q.qtype]
	if q.ecs != "" {
		s += " ecs=" + q.ecs
	}
	if q.net == "tcp" {
		s += " (tcp)"
	}
	return s
}

func newMsg(q dnsQuery) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(q.name), q.qtype)
	m.RecursionDesired = false
	if q.noEDNS {
		return m
	}
	m.SetEdns0(1232, false)
	if q.ecs != "" {
		p := netip.MustParsePrefix(q.ecs)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
		e.Family = 1
		if p.Addr().Is6() {
			e.Family = 2
		}
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, e)
	}
	return m
}

// exchange sends q to server and returns the response (one retry on a
// UDP timeout: loopback drops are rare but not impossible under -race).
func exchange(t *testing.T, server string, q dnsQuery) *dns.Msg {
	t.Helper()
	r, err := tryExchange(server, q)
	if err != nil {
		t.Fatalf("%s @%s: %v", q, server, err)
	}
	return r
}

func tryExchange(server string, q dnsQuery) (*dns.Msg, error) {
	n := q.net
	if n == "" {
		n = "udp"
	}
	c := &dns.Client{Net: n, Timeout: 3 * time.Second}
	var err error
	for range 2 {
		var r *dns.Msg
		if r, _, err = c.Exchange(newMsg(q), server); err == nil {
			return r, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	return nil, err
}

// addrs returns the A and AAAA addresses in the answer section.
func addrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}

// ecsOf returns the ECS option of a response, or nil.
func ecsOf(m *dns.Msg) *dns.EDNS0_SUBNET {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return s
			}
		}
	}
	return nil
}

// describe is a one-line summary of a response for failure messages.
func describe(m *dns.Msg) string {
	if m == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rcode=%s aa=%v tc=%v", dns.RcodeToString[m.Rcode], m.Authoritative, m.Truncated)
	for _, rr := range m.Answer {
		fmt.Fprintf(&b, " | an: %s", rr)
	}
	for _, rr := range m.Ns {
		fmt.Fprintf(&b, " | ns: %s", rr)
	}
	for _, rr := range m.Extra {
		if _, ok := rr.(*dns.OPT); ok {
			if e := ecsOf(m); e != nil {
				fmt.Fprintf(&b, " | ecs: %s/%d scope %d", e.Address, e.SourceNetmask, e.SourceScope)
			}
			continue
		}
		fmt.Fprintf(&b, " | ad: %s", rr)
	}
	return b.String()
}
