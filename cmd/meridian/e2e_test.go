package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/httpapi"
	"github.com/meridian-gslb/meridian/test/proctest"
)

// The end-to-end tests start `meridian serve` as a subprocess (the shared
// harness of test/proctest) on the demo configuration, with every listener
// on port 0; the server writes the addresses it bound to --ready-file,
// which the test waits for.

// served is one running `meridian serve`.
type served struct {
	t      *testing.T
	proc   *proctest.Proc
	ready  proctest.ServeReady
	config string // the config file the server reads; tests rewrite it
}

// waitBound bounds every wait of these tests: generous, since it only
// turns a hang into a failure on a loaded machine.
const waitBound = 30 * time.Second

// startServe copies the demo configuration and its database into a
// temporary directory and serves it.
func startServe(t *testing.T) *served {
	t.Helper()
	dir := t.TempDir()
	// The demo's health checks probe its backends: serve them here, on a
	// port of their own (make run's 8080 may be in use).
	port, _ := proctest.StartDemoBackends(t, binary(t), proctest.MeridianEnv(),
		[]string{"127.10.1.1", "127.10.2.1", "127.10.3.1"}, []string{"us-east", "eu-west", "ap-south"})
	demo := proctest.ReadFile(t, "../../testdata/demo/meridian.yaml")
	s := &served{t: t, config: proctest.WriteFile(t, filepath.Join(dir, "meridian.yaml"),
		strings.ReplaceAll(demo, "port: 8080", "port: "+strconv.Itoa(port)))}
	proctest.CopyFile(t, "../../testdata/demo/demo.mmdb", filepath.Join(dir, "demo.mmdb"))
	proctest.CopyFile(t, "../../testdata/demo/admin-token", filepath.Join(dir, "admin-token"))
	readyFile := filepath.Join(dir, "ready.json")
	cmd := exec.Command(binary(t), "serve", "--config", s.config,
		"--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--ready-file", readyFile, "--log-level", "debug")
	cmd.Env = proctest.MeridianEnv()
	s.proc = proctest.Start(t, "meridian serve", cmd)
	ready, err := proctest.WaitServeReady(s.proc, readyFile, waitBound)
	if err != nil {
		t.Fatal(err)
	}
	s.ready = ready
	return s
}

// waitLog waits for a line of the server's log holding every one of parts.
func (s *served) waitLog(what string, parts ...string) {
	s.t.Helper()
	if _, err := s.proc.WaitLine(waitBound, parts...); err != nil {
		s.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (s *served) url(path string) string { return "http://" + s.ready.HTTP + path }

func (s *served) get(path string) (int, string) {
	s.t.Helper()
	return proctest.HTTP(s.t, "GET", s.url(path))
}

// query asks the server over proto ("udp" or "tcp"), with an ECS option
// when ecs is a prefix.
func (s *served) query(proto, name string, qtype uint16, ecs string) *dns.Msg {
	s.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if ecs != "" {
		ip, ipnet, err := net.ParseCIDR(ecs)
		if err != nil {
			s.t.Fatal(err)
		}
		bits, _ := ipnet.Mask.Size()
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(1232)
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(bits), Address: ip.Mask(ipnet.Mask)})
		m.Extra = append(m.Extra, opt)
	}
	addr := s.ready.DNSUDP[0]
	if proto == "tcp" {
		addr = s.ready.DNSTCP[0]
	}
	c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		s.t.Fatalf("%s query %s: %v", proto, name, err)
	}
	return r
}

// answerA returns the A addresses of the answer, in order.
func answerA(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

func (s *served) firstA(name string) string {
	s.t.Helper()
	if a := answerA(s.query("udp", name, dns.TypeA, "")); len(a) > 0 {
		return a[0]
	}
	return ""
}

// metric sums the samples of one metric family in /metrics.
func (s *served) metric(name string) float64 {
	s.t.Helper()
	code, body := s.get("/metrics")
	if code != http.StatusOK {
		s.t.Fatalf("/metrics: %d", code)
	}
	return sumMetric(body, name)
}

func sumMetric(text, name string) float64 {
	total := 0.0
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			total += v
		}
	}
	return total
}

// eventually polls cond until it holds (at most waitBound).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	proctest.Eventually(t, waitBound, what, cond)
}

// rewrite replaces the config file the way editors and config management
// do: write a temporary file beside it and rename it over the original.
func (s *served) rewrite(edit func(string) string) {
	s.t.Helper()
	proctest.ReplaceFile(s.t, s.config, edit(proctest.ReadFile(s.t, s.config)))
}

// stop signals the server (the process only) and returns its exit status.
func (s *served) stop(sig syscall.Signal) error {
	s.t.Helper()
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.proc.Done():
		return s.proc.Err()
	case <-time.After(waitBound):
		s.t.Fatalf("serve did not stop within %v of %v", waitBound, sig)
		return nil
	}
}

func TestServeEndToEnd(t *testing.T) {
	proctest.SkipShort(t, "starts a server")
	s := startServe(t)
	if len(s.ready.DNSUDP) != 1 || s.ready.DNSUDP[0] != s.ready.DNSTCP[0] {
		t.Fatalf("ready file: %+v", s.ready)
	}

	// Health and readiness.
	if code, body := s.get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := s.get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if g := s.metric("meridian_config_generation"); g != 1 {
		t.Errorf("generation %v, want 1", g)
	}
	_, metrics := s.get("/metrics")
	for _, want := range []string{
		`meridian_build_info{commit="` + testCommit + `",goversion="`,
		`meridian_config_reloads_total{result="failure"} 0`,
		"meridian_config_last_reload_success_timestamp_seconds ",
		"go_goroutines ", "process_start_time_seconds ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	queriesBefore := sumMetric(metrics, "meridian_dns_queries_total")

	// DNS over UDP and TCP. The demo's geo rule puts 127.0.0.0/8 (the
	// test's own address) at us-east; ECS from 10/8 is placed in Ireland.
	for _, proto := range []string{"udp", "tcp"} {
		r := s.query(proto, "app.gslb.example.", dns.TypeA, "")
		if !r.Authoritative || r.Rcode != dns.RcodeSuccess || fmt.Sprint(answerA(r)) != "[192.0.2.10]" {
			t.Errorf("%s app A: %v", proto, r)
		}
		r = s.query(proto, "app.gslb.example.", dns.TypeA, "10.1.2.0/24")
		if fmt.Sprint(answerA(r)) != "[198.51.100.10]" {
			t.Errorf("%s app A with ECS 10.1.2.0/24: %v", proto, r)
		}
		r = s.query(proto, "nope.gslb.example.", dns.TypeA, "")
		if r.Rcode != dns.RcodeNameError {
			t.Errorf("%s nope: rcode %d", proto, r.Rcode)
		}
	}
	if after := s.metric("meridian_dns_queries_total"); after < queriesBefore+6 {
		t.Errorf("meridian_dns_queries_total went from %v to %v after 6 queries", queriesBefore, after)
	}

	// The explain API answers from the same snapshot.
	code, body := s.get("/api/v1/explain?name=app.gslb.example&client=10.1.2.0/24")
	var ex httpapi.ExplainResponse
	if code != 200 || json.Unmarshal([]byte(body), &ex) != nil {
		t.Fatalf("/api/v1/explain: %d %s", code, body)
	}
	if fmt.Sprint(ex.Answer.Addresses) != "[198.51.100.10]" || ex.Answer.Site != "eu-west" || ex.Answer.ScopePrefix != 8 ||
		ex.Query.SourcePrefix != 24 || ex.Trace == nil || ex.Trace.Located == nil || ex.Trace.Located.Source != "rule" {
		t.Errorf("explain: %s", body)
	}
	if code, body := s.get("/api/v1/explain?name=app.gslb.example&client=10.1.2.0/99"); code != 400 || !strings.Contains(body, `"client: `) {
		t.Errorf("bad client: %d %s", code, body)
	}
	// The services come a page at a time, by name (app, db, edge, shop, www),
	// and /api/v1/config counts them rather than listing them.
	if code, body := s.get("/api/v1/services"); code != 200 || !strings.Contains(body, `"name": "www.gslb.example."`) || !strings.Contains(body, `"total": 5`) {
		t.Errorf("/api/v1/services: %d %s", code, body)
	}
	if code, body := s.get("/api/v1/services?limit=2"); code != 200 || !strings.Contains(body, `"name": "db.gslb.example."`) ||
		strings.Contains(body, `"name": "edge.gslb.example."`) || !strings.Contains(body, `"next": "`) {
		t.Errorf("/api/v1/services?limit=2: %d %s", code, body)
	}
	if code, body := s.get("/api/v1/services?servce=www"); code != 400 || !strings.Contains(body, `unknown parameter \"servce\"`) {
		t.Errorf("/api/v1/services with a typo: %d %s", code, body)
	}
	if code, body := s.get("/api/v1/config"); code != 200 || !strings.Contains(body, `"file": "`+s.config+`"`) ||
		!strings.Contains(body, `"services": 5`) || strings.Contains(body, "www.gslb.example.") {
		t.Errorf("/api/v1/config: %d %s", code, body)
	}

	// `meridian explain` against the running server; 81.2.69.0/24 is in
	// London in the demo database.
	r := runBinary(t, proctest.MeridianEnv(), "explain", "app.gslb.example.", "--client", "81.2.69.0/24", "--server", s.url(""))
	// (The labels' column is as wide as the longest label present:
	// "compiled:" shows once the geo decision is compiled.)
	for _, want := range []string{`answer: +success 198\.51\.100\.10`, `rule: +geo-nearest`, `by database, network 81\.2\.69\.0/24, country GB`, `eu-west/198\.51\.100\.10`, `answered`} {
		if r.code != 0 || !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("meridian explain: exit %d, output lacks %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
	r = runBinary(t, proctest.MeridianEnv(), "explain", "app.gslb.example.", "--client", "81.2.69.1", "--json", "--server", s.ready.HTTP)
	if r.code != 0 || !strings.Contains(r.stdout, `"source_prefix": 32`) {
		t.Errorf("meridian explain --json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A changed file is served without a restart.
	s.rewrite(func(c string) string { return strings.Replace(c, "192.0.2.10,", "192.0.2.11,", 1) })
	eventually(t, "the new answer 192.0.2.11", func() bool { return s.firstA("app.gslb.example.") == "192.0.2.11" })
	if g := s.metric("meridian_config_generation"); g != 2 {
		t.Errorf("generation %v after a reload, want 2", g)
	}

	// A broken file is rejected: the old answer stays, the generation
	// too, and the log names the field.
	s.rewrite(func(c string) string { return strings.Replace(c, "strategy: geo", "strategy: fastest", 1) })
	s.waitLog("the rejection", `level=ERROR msg="config reload rejected"`)
	s.waitLog("the rejection's field", `services[0].policy.strategy: unknown strategy \"fastest\"`)
	proctest.Stays(t, time.Second, "the old answer 192.0.2.11 after a rejected reload", func() bool {
		return s.firstA("app.gslb.example.") == "192.0.2.11"
	})
	if g, f := s.metric("meridian_config_generation"), s.metric(`meridian_config_reloads_total{result="failure"}`); g != 2 || f != 1 {
		t.Errorf("after a rejected reload: generation %v (want 2), failures %v (want 1)", g, f)
	}
	if code, _ := s.get("/readyz"); code != 200 {
		t.Errorf("/readyz %d after a rejected reload", code)
	}

	// Fixed again: served.
	s.rewrite(func(c string) string {
		return strings.Replace(strings.Replace(c, "strategy: fastest", "strategy: geo", 1), "192.0.2.11,", "192.0.2.12,", 1)
	})
	eventually(t, "the fixed answer 192.0.2.12", func() bool { return s.firstA("app.gslb.example.") == "192.0.2.12" })

	// SIGHUP reloads even an unchanged file: the generation moves.
	gen := s.metric("meridian_config_generation")
	if err := s.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the SIGHUP reload", func() bool { return s.metric("meridian_config_generation") == gen+1 })
	// The metric moves just before the log line is written: wait for both.
	s.waitLog("the SIGHUP reload", `msg="config reloaded" trigger=signal`)

	// SIGTERM: a clean, quick exit.
	start := time.Now()
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	// The drain is bounded by control.ShutdownTimeout; the slack is for the
	// process's exit on a loaded machine, not for the drain.
	if d := time.Since(start); d > control.ShutdownTimeout+5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.config), "ready.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ready file left behind: %v", err)
	}
}

// TestServeSIGHUPRejected checks the SIGHUP path with a broken file: the
// rejection is logged with the field path and the server keeps serving.
func TestServeSIGHUPRejected(t *testing.T) {
	proctest.SkipShort(t, "starts a server")
	s := startServe(t)
	// Break the file in place (a plain write, not a rename) and signal at
	// once; the watcher may see it too, which only adds a second rejection.
	proctest.WriteFile(t, s.config, strings.Replace(proctest.ReadFile(t, s.config), "weight: 3", "wieght: 3", 1))
	if err := s.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog("the rejection", `services[1].members[0].wieght: unknown key (did you mean \"weight\"?)`)
	proctest.Stays(t, time.Second, "the first answer 192.0.2.10 after a rejected SIGHUP", func() bool {
		return s.firstA("app.gslb.example.") == "192.0.2.10"
	})
	if g := s.metric("meridian_config_generation"); g != 1 {
		t.Errorf("generation %v, want 1", g)
	}
	if err := s.stop(syscall.SIGINT); err != nil {
		t.Errorf("exit after SIGINT: %v", err)
	}
}
