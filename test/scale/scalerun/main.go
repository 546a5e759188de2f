// Command scalerun re-measures the table of the scale issue against a
// built bin/meridian, as separate processes on loopback, and prints it as
// Markdown (docs/performance.md, "Scale"). `make bench-scale` runs it.
//
//	go run ./test/scale/scalerun -services 100000 -bin bin/meridian
//
// Steps (-steps, comma-separated; default all):
//
//	check   meridian check-config: wall time and peak RSS, per check kind
//	serve   serve until /readyz, then six one-service reloads (SIGHUP),
//	        RSS and Go heap after them, per check kind
//	dns     a DNS load (-queries at -rate) during -reloads reloads, shared check
//	api     one request to each HTTP API endpoint, shared check
//	gossip  a leader and two followers: first state, then one-service edits
//	        reaching both followers' answers
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meridian-gslb/meridian/test/scale"
)

type runner struct {
	bin     string
	dir     string
	o       scale.Options
	queries int
	rate    int
	reloads int
	variant int // the last variant written, so every edit is new
	verbose bool
	// serverEnv is more environment for the servers ("GOGC=200 ...").
	serverEnv string
	// serverCPUs pins the servers (taskset -c), so that the load
	// generator (this process, pinned by its caller) does not share
	// their CPUs: the side-by-side kit's layout.
	serverCPUs string
	stopping   []func()
}

func main() {
	var r runner
	var steps string
	flag.IntVar(&r.o.Services, "services", 100_000, "services")
	flag.IntVar(&r.o.Sites, "sites", 5, "sites")
	flag.IntVar(&r.o.Members, "members", 3, "members per service")
	flag.StringVar(&r.bin, "bin", "bin/meridian", "the meridian binary")
	flag.StringVar(&r.dir, "dir", "", "working directory (default: a new temporary one)")
	flag.StringVar(&steps, "steps", "check,serve,dns,api,gossip", "steps to run")
	flag.IntVar(&r.queries, "queries", 1_000_000, "DNS queries of the dns step")
	flag.IntVar(&r.rate, "rate", 20_000, "DNS queries per second of the dns step")
	flag.IntVar(&r.reloads, "reloads", 10, "reloads during the dns step")
	flag.BoolVar(&r.verbose, "v", false, "show the servers' output")
	flag.StringVar(&r.serverEnv, "server-env", "", "more environment for the servers, space-separated (GOMAXPROCS=3 GOGC=200)")
	flag.StringVar(&r.serverCPUs, "server-cpus", "", "pin the servers to these CPUs (taskset -c list, \"0\"); run scalerun itself under taskset -c on the others")
	flag.Parse()
	if r.dir == "" {
		d, err := os.MkdirTemp("", "scalerun-")
		must(err)
		defer os.RemoveAll(d)
		r.dir = d
	}
	var err error
	r.bin, err = filepath.Abs(r.bin)
	must(err)
	defer r.stopAll()
	fmt.Printf("scalerun: %d services x %d members over %d sites, %s\n\n", r.o.Services, r.o.Members, r.o.Sites, time.Now().UTC().Format(time.RFC3339))
	for _, s := range strings.Split(steps, ",") {
		switch s {
		case "check":
			r.check()
		case "serve":
			r.serve()
		case "dns":
			r.dns()
		case "api":
			r.api()
		case "gossip":
			r.gossip()
		default:
			must(fmt.Errorf("unknown step %q", s))
		}
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalerun:", err)
		os.Exit(1)
	}
}

var checks = []scale.Check{scale.CheckNone, scale.CheckSharedTCP, scale.CheckPerServiceNone}

// write writes the configuration o to name in r.dir, atomically.
func (r *runner) write(name string, o scale.Options) string {
	path := filepath.Join(r.dir, name)
	must(scale.WriteFile(path+".tmp", o))
	must(os.Rename(path+".tmp", path))
	return path
}

func (r *runner) check() {
	fmt.Println("| `meridian check-config` | wall | peak RSS |\n|---|---|---|")
	for _, c := range checks {
		o := r.o
		o.Check = c
		path := r.write("check-"+string(c)+".yaml", o)
		cmd := exec.Command(r.bin, "check-config", path)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			must(fmt.Errorf("check-config %s: %v\n%s", c, err, out))
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		fmt.Printf("| check %s | %.2f s | %d MB |\n", c, took.Seconds(), ru.Maxrss/1024)
	}
	fmt.Println()
}

// proc is a running serve process.
type proc struct {
	cmd  *exec.Cmd
	http string
	dns  string
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs serve on config and returns when it is ready, with the time
// it took.
func (r *runner) start(config, dnsAddr, httpAddr string) (*proc, time.Duration) {
	cmd := exec.Command(r.bin, "serve", "--config", config)
	if r.serverCPUs != "" {
		cmd = exec.Command("taskset", "-c", r.serverCPUs, r.bin, "serve", "--config", config)
	}
	if r.serverEnv != "" {
		cmd.Env = append(os.Environ(), strings.Fields(r.serverEnv)...)
	}
	if r.verbose {
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	}
	start := time.Now()
	must(cmd.Start())
	p := &proc{cmd: cmd, http: "http://" + httpAddr, dns: dnsAddr}
	r.stopping = append(r.stopping, func() { p.stop() })
	for {
		if code, _, _ := get(p.http + "/readyz"); code == 200 {
			return p, time.Since(start)
		}
		if time.Since(start) > 10*time.Minute {
			must(fmt.Errorf("%s: not ready after 10 minutes", config))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (r *runner) stopAll() {
	for _, f := range slices.Backward(r.stopping) {
		f()
	}
	r.stopping = nil
}

func get(url string) (int, []byte, error) {
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// metric reads one unlabelled metric of p.
func (p *proc) metric(name string) float64 {
	_, body, err := get(p.http + "/metrics")
	must(err)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			must(err)
			return f
		}
	}
	must(fmt.Errorf("no metric %s", name))
	return 0
}

// generation is the configuration generation p serves, from
// /api/v1/config: cheap, where /metrics grows with the services queried.
func (p *proc) generation() uint64 {
	_, body, err := get(p.http + "/api/v1/config")
	must(err)
	var c struct {
		Generation uint64 `json:"generation"`
	}
	must(json.Unmarshal(body, &c))
	return c.Generation
}

// memory is the process's VmRSS and VmHWM in MB.
func (p *proc) memory() (rss, hwm int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	must(err)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "VmRSS:":
				rss = kb / 1024
			case "VmHWM:":
				hwm = kb / 1024
			}
		}
	}
	return rss, hwm
}

// edits writes the next n one-service edits of o, each to its own file
// beside path, ahead of time: writing 30 MB of YAML takes this process a
// second of CPU, which must not land in a measurement (the DNS load runs
// in this process too).
func (r *runner) edits(path string, o scale.Options, n int) []string {
	var files []string
	for range n {
		r.variant++
		o.Variant = r.variant
		files = append(files, r.write(fmt.Sprintf("%s.edit%d", filepath.Base(path), r.variant), o))
	}
	return files
}

// reload moves edit over path, signals p and returns when p serves the
// new generation, with the time it took.
func (r *runner) reload(p *proc, path, edit string) time.Duration {
	gen := p.generation()
	must(os.Rename(edit, path))
	start := time.Now()
	must(p.cmd.Process.Signal(syscall.SIGHUP))
	for p.generation() == gen {
		if time.Since(start) > 10*time.Minute {
			must(errors.New("reload: no new generation after 10 minutes"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// probeListeners accept the shared tcp check's connections.
func (r *runner) probeListeners(o scale.Options) {
	o = o.Defaults()
	for j := range o.Sites {
		l, err := net.Listen("tcp", netip.AddrPortFrom(scale.ProbeAddr(o, j), uint16(o.ProbePort)).String())
		must(err)
		r.stopping = append(r.stopping, func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
}

// serving starts serve with check c and returns it, its config path and
// options, and how long it took to be ready.
func (r *runner) serving(c scale.Check) (*proc, string, scale.Options, time.Duration) {
	o := r.o
	o.Check = c
	o.DNSListen = fmt.Sprintf("127.0.0.1:%d", freePort())
	o.HTTPListen = fmt.Sprintf("127.0.0.1:%d", freePort())
	path := r.write("serve-"+string(c)+".yaml", o)
	p, ready := r.start(path, o.DNSListen, o.HTTPListen)
	return p, path, o, ready
}

func (r *runner) serve() {
	fmt.Println("| `serve` | ready | RSS ready | one-service reloads (6): median, max | RSS after | VmHWM | Go heap in use |\n|---|---|---|---|---|---|---|")
	for _, c := range checks {
		if c == scale.CheckSharedTCP {
			r.probeListeners(r.o)
		}
		p, path, o, ready := r.serving(c)
		rssReady, _ := p.memory()
		var took []time.Duration
		for _, edit := range r.edits(path, o, 6) {
			took = append(took, r.reload(p, path, edit))
			// The file watcher reloads once more (and finds nothing
			// changed): let it pass before the next edit.
			time.Sleep(time.Second + took[len(took)-1])
		}
		slices.Sort(took)
		rss, hwm := p.memory()
		heap := p.metric("go_memstats_heap_inuse_bytes")
		fmt.Printf("| %s | %.2f s | %d MB | %.2f s, %.2f s | %d MB | %d MB | %d MB |\n", c, ready.Seconds(), rssReady,
			took[len(took)/2].Seconds(), took[len(took)-1].Seconds(), rss, hwm, int(heap/(1<<20)))
		p.stop()
		r.stopAll()
	}
	fmt.Println()
}

func (r *runner) names() []string {
	names := make([]string, r.o.Services)
	for i := range names {
		names[i] = scale.ServiceName(i)
	}
	return names
}

func (r *runner) dns() {
	r.probeListeners(r.o)
	p, path, o, _ := r.serving(scale.CheckSharedTCP)
	edits := r.edits(path, o, r.reloads)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type loadDone struct {
		res scale.LoadResult
		err error
	}
	done := make(chan loadDone, 1)
	go func() {
		res, err := scale.Load(ctx, scale.LoadOptions{Server: p.dns, Names: r.names(), Queries: r.queries, Rate: r.rate})
		done <- loadDone{res, err}
	}()
	run := time.Duration(r.queries) * time.Second / time.Duration(r.rate)
	gap := run / time.Duration(r.reloads+1)
	var took []time.Duration
	for _, edit := range edits {
		time.Sleep(gap)
		took = append(took, r.reload(p, path, edit))
	}
	d := <-done
	must(d.err)
	slices.Sort(took)
	fmt.Printf("DNS during %d one-service reloads (shared tcp check", len(took))
	if len(took) > 0 {
		fmt.Printf("; reloads median %.2f s, max %.2f s", took[len(took)/2].Seconds(), took[len(took)-1].Seconds())
	}
	fmt.Printf("):\n\n    %v\n\n", d.res)
	start := time.Now()
	_, body, err := get(p.http + "/metrics")
	must(err)
	fmt.Printf("/metrics after the load: %d bytes in %.1f ms\n\n", len(body), float64(time.Since(start).Microseconds())/1000)
	p.stop()
	r.stopAll()
}

func (r *runner) api() {
	r.probeListeners(r.o)
	p, path, o, _ := r.serving(scale.CheckSharedTCP)
	svc := scale.ServiceName(r.o.Services / 2)
	fmt.Println("| endpoint | status | bytes | time (median of 5) |\n|---|---|---|---|")
	for _, path := range []string{
		"/api/v1/health?service=" + svc,
		"/api/v1/health",
		"/api/v1/services",
		"/api/v1/config",
		"/api/v1/explain?name=" + svc + "&client=192.0.2.1",
		"/metrics",
	} {
		var took []time.Duration
		var code, size int
		for range 5 {
			start := time.Now()
			c, body, err := get(p.http + path)
			took = append(took, time.Since(start))
			if err != nil {
				c = 0
			}
			code, size = c, len(body)
		}
		slices.Sort(took)
		fmt.Printf("| `GET %s` | %d | %d | %.1f ms |\n", path, code, size, float64(took[2].Microseconds())/1000)
	}
	// The first /health page after a one-service reload, as a dashboard
	// polling it sees: 1 s after the reload (the indexes are built after
	// the publish), and at once (the request may wait for that build).
	fmt.Println()
	for _, wait := range []time.Duration{time.Second, 0} {
		var took []time.Duration
		for _, edit := range r.edits(path, o, 3) {
			r.reload(p, path, edit)
			time.Sleep(wait)
			start := time.Now()
			_, _, err := get(p.http + "/api/v1/health")
			must(err)
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		fmt.Printf("first `GET /api/v1/health` %v after a one-service reload (3 reloads): median %.1f ms, max %.1f ms\n",
			wait, float64(took[1].Microseconds())/1000, float64(took[2].Microseconds())/1000)
	}
	fmt.Println()
	p.stop()
	r.stopAll()
}

func (r *runner) gossip() {
	port := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort()) }
	leaderGossip := port()
	o := r.o
	o.DNSListen, o.HTTPListen = port(), port()
	o.Extra = fmt.Sprintf("gossip: {role: leader, site: %s, node_name: leader, listen: %s, insecure: true, timing: local, state_file: %s}\n",
		scale.SiteName(0), leaderGossip, filepath.Join(r.dir, "state-leader"))
	path := r.write("leader.yaml", o)
	start := time.Now()
	leader, leaderReady := r.start(path, o.DNSListen, o.HTTPListen)
	var followers []*proc
	var followerReady []time.Duration
	for i := 1; i <= 2; i++ {
		dnsAddr, httpAddr := port(), port()
		cfg := fmt.Sprintf("log: {level: warn}\ndns: {listen: [%q]}\nhttp: {listen: %q}\n"+
			"gossip: {role: follower, site: %s, node_name: follower%d, listen: %s, join: [%s], insecure: true, timing: local, state_file: %s}\n",
			dnsAddr, httpAddr, scale.SiteName(i), i, port(), leaderGossip, filepath.Join(r.dir, fmt.Sprint("state-follower", i)))
		fpath := filepath.Join(r.dir, fmt.Sprintf("follower%d.yaml", i))
		must(os.WriteFile(fpath, []byte(cfg), 0o644))
		f, ready := r.start(fpath, dnsAddr, httpAddr)
		followers = append(followers, f)
		followerReady = append(followerReady, ready)
	}
	fmt.Printf("Gossip, leader and two followers: leader ready %.2f s; followers ready (first state fetched) %.2f s and %.2f s; all %.2f s after start\n\n",
		leaderReady.Seconds(), followerReady[0].Seconds(), followerReady[1].Seconds(), time.Since(start).Seconds())
	fmt.Println("| one-service edit on the leader | leader reloaded | both followers answer it |\n|---|---|---|")
	for range 5 {
		r.variant++
		edited := scale.Options{Services: r.o.Services, Variant: r.variant}.Defaults()
		svc := scale.ServiceName(edited.Variant % edited.Services)
		wantTTL := uint32(30 + edited.Variant%3600)
		o.Variant = r.variant
		r.write("leader.yaml", o)
		start := time.Now()
		must(leader.cmd.Process.Signal(syscall.SIGHUP))
		var reloaded time.Duration
		gen := leader.generation()
		for _, f := range followers {
			for ttlOf(f.dns, svc) != wantTTL {
				if reloaded == 0 && leader.generation() != gen {
					reloaded = time.Since(start)
				}
				if time.Since(start) > 5*time.Minute {
					must(fmt.Errorf("follower %s never answered %s with TTL %d", f.dns, svc, wantTTL))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		fmt.Printf("| %s TTL %d | %.2f s | %.2f s |\n", svc, wantTTL, reloaded.Seconds(), time.Since(start).Seconds())
		time.Sleep(2 * time.Second)
	}
	fmt.Println()
	for _, p := range append(followers, leader) {
		rss, hwm := p.memory()
		fmt.Printf("    %s: RSS %d MB, VmHWM %d MB\n", p.http, rss, hwm)
	}
	fmt.Println()
	r.stopAll()
}

// ttlOf asks server for name's A record and returns the answer's TTL (0
// on any failure).
func ttlOf(server, name string) uint32 {
	c, err := net.Dial("udp", server)
	if err != nil {
		return 0
	}
	defer c.Close()
	q := scale.Query(name, 1)
	scale.SetID(q, 7)
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(q); err != nil {
		return 0
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return 0
	}
	resp, err := scale.ParseResponse(buf[:n])
	if err != nil || resp.Answers == 0 {
		return 0
	}
	return resp.TTL
}
