package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runDemoBackends is the hidden `meridian demo-backends` command: tiny HTTP
// servers that stand for the demo's sites, so that `make run` probes real
// sockets and a reader can make a site fail and recover with curl. It is
// part of the meridian binary, not a program of its own, so that the demo
// and the end-to-end tests need nothing but the binary they already built.
func runDemoBackends(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo-backends", "meridian demo-backends ADDR:PORT[=NAME]...",
		"Serve a demo backend on each address until SIGINT or SIGTERM (for `make run`).\n"+
			"  GET  /healthz   200 \"ok\" while healthy, 503 after /fail\n"+
			"  POST /fail      make /healthz answer 503 (the site fails its health check)\n"+
			"  POST /recover   make /healthz answer 200 again\n"+
			"  GET  /          which backend this is, and its state")
	if code, done := fs.parse(args, stdout, stderr); done {
		return code
	}
	if fs.NArg() == 0 {
		return fs.fail(stderr, "want at least one ADDR:PORT[=NAME], such as 127.10.1.1:8080=us-east")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("component", "demo-backends")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var servers []*http.Server
	errc := make(chan error, fs.NArg())
	closeAll := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
	}
	for _, arg := range fs.Args() {
		addr, name, _ := strings.Cut(arg, "=")
		if name == "" {
			name = addr
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			fmt.Fprintf(stderr, "meridian demo-backends: %v\n", err)
			return exitFail
		}
		b := &demoBackend{name: name, addr: ln.Addr().String(), log: log}
		srv := &http.Server{Handler: b.routes(), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		log.Info("serving", "backend", name, "addr", b.addr,
			"fail", "curl -X POST http://"+b.addr+"/fail", "recover", "curl -X POST http://"+b.addr+"/recover")
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

// demoBackend is one demo site's backend.
type demoBackend struct {
	name, addr string
	log        *slog.Logger
	failing    atomic.Bool
	mu         sync.Mutex // orders the log lines of state changes
}

func (b *demoBackend) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", b.healthz)
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, _ *http.Request) { b.set(w, true) })
	mux.HandleFunc("POST /recover", func(w http.ResponseWriter, _ *http.Request) { b.set(w, false) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "demo backend %s on %s: %s\n", b.name, b.addr, b.state())
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
