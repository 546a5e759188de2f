package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meridian-gslb/meridian/sites"
)

// runDemoBackends is the hidden `meridian demo-backends` command: tiny HTTP
// servers that stand for the demo's sites, so that `make run` probes real
// sockets and a reader can make a site fail and recover with curl. It is
// part of the meridian binary, not a program of its own, so that the demo
// and the end-to-end tests need nothing but the binary they already built.
func runDemoBackends(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo-backends", "meridian demo-backends [--ready-file FILE] ADDR:PORT[=NAME]...",
		"Serve a demo backend on each address until SIGINT or SIGTERM (for `make run`).\n"+
			"The first address may have port 0 (the kernel picks one); a later address with\n"+
			"port 0 gets the port the first one bound, since the demo's health check names one\n"+
			"port for every site.\n"+
			"  GET  /healthz   200 \"ok\" while healthy, 503 after /fail\n"+
			"  POST /fail      make /healthz answer 503 (the site fails its health check)\n"+
			"  POST /recover   make /healthz answer 200 again\n"+
			"  POST /load?value=N  report load N (default 0.1): /healthz sends it in the\n"+
			"                  X-Load header, /metrics as demo_backend_load\n"+
			"  GET  /metrics   demo_backend_load{backend=NAME} in Prometheus' text format\n"+
			"  GET  /          which backend this is, and its state")
	readyFile := fs.String("ready-file", "", "once serving, write the bound addresses as JSON to this file\n(useful with port 0)")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		return fs.fail(stderr, "want at least one ADDR:PORT[=NAME], such as 127.10.1.1:8080=us-east")
	}
	specs, err := parseDemoBackends(fs.Args())
	if err != nil {
		return fs.fail(stderr, "%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("component", "demo-backends")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	lns, err := listenDemoBackends(specs, net.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "meridian demo-backends: %v\n", err)
		return exitFail
	}
	var servers []*http.Server
	errc := make(chan error, len(lns))
	closeAll := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
	}
	ready := demoReady{PID: os.Getpid()}
	for i, ln := range lns {
		b := &demoBackend{name: specs[i].name, addr: ln.Addr().String(), log: log}
		b.load.Store(math.Float64bits(demoDefaultLoad))
		srv := &http.Server{Handler: b.routes(), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		ready.Backends = append(ready.Backends, demoReadyBackend{Name: b.name, Addr: b.addr})
		log.Info("serving", "backend", b.name, "addr", b.addr,
			"fail", "curl -X POST http://"+b.addr+"/fail", "recover", "curl -X POST http://"+b.addr+"/recover")
	}
	if *readyFile != "" {
		// Unlike serve, which logs and keeps serving, fail: whoever asked
		// for the file waits for it, and a demo backend has nothing else
		// worth keeping up.
		if err := writeDemoReady(*readyFile, ready); err != nil {
			closeAll()
			fmt.Fprintf(stderr, "meridian demo-backends: --ready-file: %v\n", err)
			return exitFail
		}
		defer os.Remove(*readyFile)
	}
	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("backend failed", "error", err)
		code = exitFail
	}
	closeAll()
	return code
}

// demoSpec is one ADDR:PORT[=NAME] argument.
type demoSpec struct {
	host string
	port int // 0: the kernel's choice for the first, the first's port for the others
	name string
}

// parseDemoBackends parses the arguments, naming the one that is wrong.
func parseDemoBackends(args []string) ([]demoSpec, error) {
	specs := make([]demoSpec, 0, len(args))
	for i, arg := range args {
		addr, name, _ := strings.Cut(arg, "=")
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("argument %d %q: want ADDR:PORT[=NAME]: %v", i+1, arg, err)
		}
		port, err := net.LookupPort("tcp", portStr)
		if err != nil {
			return nil, fmt.Errorf("argument %d %q: port %q: %v", i+1, arg, portStr, err)
		}
		if name == "" {
			name = addr
		}
		specs = append(specs, demoSpec{host: host, port: port, name: name})
	}
	return specs, nil
}

// sharedPortAttempts bounds how often listenDemoBackends chooses the
// shared port again when the kernel's choice for the first address is
// taken on another one.
const sharedPortAttempts = 20

// listenDemoBackends binds every spec, in order, with listen (net.Listen;
// tests wrap it). The first binds its own port (0: the kernel picks); a
// later spec with port 0 binds the port the first got. When the kernel
// picked a port that another process already holds on a later address, it
// closes everything and lets the kernel pick again, so a caller giving
// port 0 never sees a clash.
func listenDemoBackends(specs []demoSpec, listen func(network, addr string) (net.Listener, error)) ([]net.Listener, error) {
	for attempt := 1; ; attempt++ {
		lns, pickAgain, err := listenDemoOnce(specs, listen)
		if err == nil || !pickAgain || attempt == sharedPortAttempts {
			return lns, err
		}
	}
}

// listenDemoOnce is one attempt of listenDemoBackends. pickAgain says the
// failure was the kernel's port being taken on a later address.
func listenDemoOnce(specs []demoSpec, listen func(network, addr string) (net.Listener, error)) (lns []net.Listener, pickAgain bool, err error) {
	shared := 0
	for i, s := range specs {
		port := s.port
		if i > 0 && port == 0 {
			port = shared
		}
		ln, err := listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(port)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			derived := i > 0 && s.port == 0 && specs[0].port == 0
			return nil, derived && errors.Is(err, syscall.EADDRINUSE), err
		}
		if i == 0 {
			shared = ln.Addr().(*net.TCPAddr).Port
		}
		lns = append(lns, ln)
	}
	return lns, false, nil
}

// demoReady is the --ready-file content: where each backend listens.
type demoReady struct {
	Backends []demoReadyBackend `json:"backends"`
	PID      int                `json:"pid"`
}

type demoReadyBackend struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // host:port
}

// writeDemoReady writes the ready file atomically, as serve does, so a
// reader polling for it never sees half of it.
func writeDemoReady(path string, r demoReady) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return sites.WriteFileAtomic(path, append(b, '\n'), 0o644)
}

// demoBackend is one demo site's backend.
type demoBackend struct {
	name, addr string
	log        *slog.Logger
	failing    atomic.Bool
	load       atomic.Uint64 // math.Float64bits of the load it reports (demoDefaultLoad at first)
	mu         sync.Mutex    // orders the log lines of state changes
}

// demoDefaultLoad is what a demo backend reports until told otherwise:
// well below the demo's low watermark.
const demoDefaultLoad = 0.1

// loadNow is the load the backend reports.
func (b *demoBackend) loadNow() float64 { return math.Float64frombits(b.load.Load()) }

// setLoad serves POST /load?value=N: the load /healthz and /metrics
// report from now on, as a backend would report its own.
func (b *demoBackend) setLoad(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.ParseFloat(r.URL.Query().Get("value"), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		http.Error(w, "want /load?value=N with a number of at least 0", http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.load.Store(math.Float64bits(v))
	b.log.Info("load", "backend", b.name, "addr", b.addr, "now", v)
	b.mu.Unlock()
	fmt.Fprintf(w, "%s: load %g\n", b.name, v)
}

// metrics serves GET /metrics: the load in Prometheus' text format, for
// the load-shedding test's Prometheus to scrape.
func (b *demoBackend) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintf(w, "# HELP demo_backend_load The load this demo backend reports.\n# TYPE demo_backend_load gauge\ndemo_backend_load{backend=%q} %g\n", b.name, b.loadNow())
}

func (b *demoBackend) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", b.healthz)
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, _ *http.Request) { b.set(w, true) })
	mux.HandleFunc("POST /recover", func(w http.ResponseWriter, _ *http.Request) { b.set(w, false) })
	mux.HandleFunc("POST /load", b.setLoad)
	mux.HandleFunc("GET /metrics", b.metrics)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "demo backend %s on %s: %s, load %g\n", b.name, b.addr, b.state(), b.loadNow())
	})
	return mux
}

func (b *demoBackend) state() string {
	if b.failing.Load() {
		return "failing (/healthz answers 503)"
	}
	return "healthy (/healthz answers 200)"
}

func (b *demoBackend) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Load", strconv.FormatFloat(b.loadNow(), 'g', -1, 64))
	if b.failing.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "failing: %s\n", b.name)
		return
	}
	fmt.Fprintf(w, "ok: %s\n", b.name)
}

func (b *demoBackend) set(w http.ResponseWriter, failing bool) {
	b.mu.Lock()
	b.failing.Store(failing)
	b.log.Info("state", "backend", b.name, "addr", b.addr, "now", b.state())
	b.mu.Unlock()
	fmt.Fprintf(w, "%s: %s\n", b.name, b.state())
}
