package health

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/prometheus/client_golang/prometheus"
)

// loadServer is a loopback HTTP server whose answer a test sets: the
// status, one header and the body.
type loadServer struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	header   string // "Name: value", or ""
	body     string
	requests atomic.Int64
}

func startLoadServer(t *testing.T, status int, header, body string) *loadServer {
	t.Helper()
	s := &loadServer{status: status, header: header, body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		status, header, body := s.status, s.header, s.body
		s.mu.Unlock()
		if name, value, ok := strings.Cut(header, ":"); ok {
			w.Header().Set(name, value)
		}
		w.WriteHeader(status)
		w.Write([]byte(body)) // dropped for HEAD
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *loadServer) set(header, body string) {
	s.mu.Lock()
	s.header, s.body = header, body
	s.mu.Unlock()
}

func (s *loadServer) addrPort() netip.AddrPort {
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

// probeLoad runs one probe of c against s and returns its verdict and the
// load it read.
func probeLoad(t *testing.T, s *loadServer, c Check) (probeErr error, v float64, ok bool, loadErr error) {
	t.Helper()
	tg := mustTarget(t, s.addrPort(), c)
	p, err := NewProber(tg)
	if err != nil {
		t.Fatalf("NewProber: %v", err)
	}
	lp, isLoad := p.(loadProber)
	if !isLoad {
		t.Fatalf("%T is not a loadProber", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	probeErr = p.Probe(ctx)
	v, ok, loadErr = lp.LastLoad()
	return probeErr, v, ok, loadErr
}

func TestHTTPLoad(t *testing.T) {
	t.Parallel()
	big := `{"load": 1, "pad": "` + strings.Repeat("x", gslb.MaxLoadBody) + `"}`
	for _, tc := range []struct {
		name, loadFrom, method, header, body, bodyContains string
		want                                               float64 // when wantErr is ""
		wantErr                                            string  // in the load error
	}{
		{name: "header", loadFrom: "header:x-load", header: "X-Load:  42.5 ", want: 42.5},
		{name: "header HEAD", loadFrom: "header:X-Load", method: "HEAD", header: "X-Load: 7", want: 7},
		{name: "header zero", loadFrom: "header:X-Load", header: "X-Load: -0", want: 0},
		{name: "header missing", loadFrom: "header:X-Load", header: "X-Other: 1", wantErr: "no X-Load header"},
		{name: "header not a number", loadFrom: "header:X-Load", header: "X-Load: high", wantErr: `header X-Load: "high" is not a number`},
		{name: "header negative", loadFrom: "header:X-Load", header: "X-Load: -1", wantErr: "is negative"},
		{name: "header NaN", loadFrom: "header:X-Load", header: "X-Load: NaN", wantErr: "not a finite number"},
		{name: "header Inf", loadFrom: "header:X-Load", header: "X-Load: +Inf", wantErr: "not a finite number"},
		{name: "body", loadFrom: "body", body: " 0.75\n", want: 0.75},
		{name: "body empty", loadFrom: "body", body: "", wantErr: `"" is not a number`},
		{name: "body text", loadFrom: "body", body: "busy", wantErr: `body: "busy" is not a number`},
		{name: "body too long", loadFrom: "body", body: strings.Repeat("1", gslb.MaxLoadBody+1), wantErr: "body over"},
		{name: "json nested", loadFrom: "json:stats.cpu", body: `{"stats": {"cpu": 12, "mem": 3}}`, want: 12},
		{name: "json string number", loadFrom: "json:stats.cpu", body: `{"stats": {"cpu": " 3.5 "}}`, want: 3.5},
		{name: "json top key", loadFrom: "json:load", body: `{"load": 1e2}`, want: 100},
		{name: "json missing key", loadFrom: "json:stats.cpu", body: `{"stats": {}}`, wantErr: `no key "stats.cpu"`},
		{name: "json not an object", loadFrom: "json:stats.cpu", body: `{"stats": [1]}`, wantErr: `"stats" is an array, not an object`},
		{name: "json bool", loadFrom: "json:load", body: `{"load": true}`, wantErr: "value is a boolean, not a number"},
		{name: "json string text", loadFrom: "json:load", body: `{"load": "n/a"}`, wantErr: `"n/a" is not a number`},
		{name: "json negative", loadFrom: "json:load", body: `{"load": -2}`, wantErr: "is negative"},
		{name: "json bad", loadFrom: "json:load", body: `{"load": `, wantErr: "bad JSON"},
		{name: "json trailing", loadFrom: "json:load", body: `{"load": 1} {}`, wantErr: "data after the document"},
		{name: "json too long", loadFrom: "json:load", body: big, wantErr: "body over"},
		// A capacity (the free share) is read as the load 1 - capacity.
		{name: "capacity header", loadFrom: "capacity:header:X-Free", header: "X-Free: 0.25", want: 0.75},
		{name: "capacity json", loadFrom: "capacity:json:free", body: `{"free": 1}`, want: 0},
		{name: "capacity body none free", loadFrom: "capacity:body", body: "0", want: 1},
		{name: "capacity above 1", loadFrom: "capacity:header:X-Free", header: "X-Free: 1.5", wantErr: "load: capacity:header:X-Free: 1.5 is above 1"},
		{name: "capacity not a number", loadFrom: "capacity:header:X-Free", header: "X-Free: lots", wantErr: `header X-Free: "lots" is not a number`},
		// One read serves both the body match and the load.
		{name: "json and body_contains", loadFrom: "json:load", body: `{"status": "ok", "load": 9}`, bodyContains: `"status": "ok"`, want: 9},
		{name: "header and body_contains", loadFrom: "header:X-Load", header: "X-Load: 4", body: "ok", bodyContains: "ok", want: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startLoadServer(t, http.StatusOK, tc.header, tc.body)
			probeErr, v, ok, loadErr := probeLoad(t, s, Check{Kind: KindHTTP, Method: tc.method, LoadFrom: tc.loadFrom, BodyContains: tc.bodyContains})
			if probeErr != nil {
				t.Fatalf("probe failed: %v; a load read never fails it", probeErr)
			}
			if tc.wantErr == "" {
				if !ok || loadErr != nil || v != tc.want {
					t.Errorf("load = %v, %v, %v; want %v", v, ok, loadErr, tc.want)
				}
			} else if ok || loadErr == nil || !strings.Contains(loadErr.Error(), tc.wantErr) {
				t.Errorf("load = %v, %v, %v; want no reading and an error with %q", v, ok, loadErr, tc.wantErr)
			}
			if n := s.requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// A failed probe reads no load, and says nothing about it: the failure is
// the news. So does a check without load_from.
func TestHTTPLoadNotRead(t *testing.T) {
	t.Parallel()
	s := startLoadServer(t, http.StatusServiceUnavailable, "X-Load: 3", `{"load": 3}`)
	for _, c := range []Check{
		{Kind: KindHTTP, LoadFrom: "header:X-Load"},
		{Kind: KindHTTP, LoadFrom: "json:load"},
	} {
		probeErr, _, ok, loadErr := probeLoad(t, s, c)
		if reasonOf(probeErr) != ReasonStatus || ok || loadErr != nil {
			t.Errorf("%s on a 503: probe %v, load %v %v; want a status failure and no reading", c.LoadFrom, probeErr, ok, loadErr)
		}
	}
	s = startLoadServer(t, http.StatusOK, "X-Load: 3", `{"status": "bad", "load": 3}`)
	probeErr, _, ok, loadErr := probeLoad(t, s, Check{Kind: KindHTTP, LoadFrom: "json:load", BodyContains: "healthy"})
	if reasonOf(probeErr) != ReasonBody || ok || loadErr != nil {
		t.Errorf("body mismatch: probe %v, load %v %v; want a body failure and no reading", probeErr, ok, loadErr)
	}
	probeErr, _, ok, loadErr = probeLoad(t, s, Check{Kind: KindHTTP})
	if probeErr != nil || ok || loadErr != nil {
		t.Errorf("no load_from: probe %v, load %v %v", probeErr, ok, loadErr)
	}
}

// load_from is parsed into its canonical text, which Spec gives back and
// the key hashes; changing it changes the key but keeps the target's
// state (it changes no verdict).
func TestCheckLoadFrom(t *testing.T) {
	t.Parallel()
	c, err := Compile(&gslb.HealthCheck{Kind: "http", LoadFrom: " HEADER:x-load "})
	if err != nil {
		t.Fatal(err)
	}
	if c.LoadFrom != "header:X-Load" {
		t.Errorf("LoadFrom = %q, want the canonical header:X-Load", c.LoadFrom)
	}
	if lf, err := c.loadSource(); err != nil || lf.Kind != gslb.LoadFromHeader || lf.Name != "X-Load" {
		t.Errorf("loadSource = %+v, %v", lf, err)
	}
	if spec := c.Spec(); spec.LoadFrom != "header:X-Load" {
		t.Errorf("Spec().LoadFrom = %q", spec.LoadFrom)
	}
	spec := c.Spec()
	if again, err := Compile(&spec); err != nil || !equalChecks(again, c) || again.LoadFrom != c.LoadFrom {
		t.Errorf("Compile(Spec) = %+v, %v", again, err)
	}
	for in, want := range map[string]string{"json:stats.cpu": "json:stats.cpu", "Body": "body", "CAPACITY:header:x-free": "capacity:header:X-Free"} {
		if c, err := CheckFromSpec(&gslb.HealthCheck{Kind: "http", LoadFrom: in}); err != nil || c.LoadFrom != want {
			t.Errorf("CheckFromSpec(load_from %q) = %q, %v; want %q", in, c.LoadFrom, err, want)
		}
	}
	// JSON carries it under the configuration's name.
	if b, _ := json.Marshal(c); !strings.Contains(string(b), `"load_from":"header:X-Load"`) {
		t.Errorf("JSON %s lacks load_from", b)
	}

	// Not parsed: the rule's field error, the text kept as written.
	bad, err := CheckFromSpec(&gslb.HealthCheck{Kind: "http", LoadFrom: "xml:load"})
	var fe *gslb.FieldError
	if !errors.As(err, &fe) || fe.Path != "load_from" || bad.LoadFrom != "xml:load" {
		t.Errorf("bad load_from: %+v, %v", bad, err)
	}
	if _, err := Compile(&gslb.HealthCheck{Kind: "http", Method: "HEAD", LoadFrom: "body"}); err == nil {
		t.Error("HEAD with a body load compiled")
	}
	// A check changed by hand is read by its text.
	hand := c
	hand.LoadFrom = "json:a.b"
	if lf, err := hand.loadSource(); err != nil || lf.Kind != gslb.LoadFromJSON || len(lf.Path) != 2 {
		t.Errorf("hand-made loadSource = %+v, %v", lf, err)
	}

	addr := netip.MustParseAddrPort("127.10.0.1:80")
	plain := mustTarget(t, addr, Check{Kind: KindHTTP})
	hdr := mustTarget(t, addr, Check{Kind: KindHTTP, LoadFrom: "header:x-load"})
	hdr2 := mustTarget(t, addr, Check{Kind: KindHTTP, LoadFrom: "header:X-Load"})
	body := mustTarget(t, addr, Check{Kind: KindHTTP, LoadFrom: "body"})
	free := mustTarget(t, addr, Check{Kind: KindHTTP, LoadFrom: "capacity:header:X-Load"})
	if hdr.Key() == plain.Key() || body.Key() == hdr.Key() || body.Key() == plain.Key() || free.Key() == hdr.Key() {
		t.Error("load_from did not change the key")
	}
	if hdr.Key() != hdr2.Key() {
		t.Error("two spellings of one header are two keys")
	}
	if hdr.probeID() != plain.probeID() || body.probeID() != plain.probeID() {
		t.Error("load_from changed the probe identity: a target would lose its state")
	}
}

// loadMonitor is a Monitor with a Signals and Metrics, probing one target
// of s with load_from.
func loadMonitor(t *testing.T, s *loadServer, loadFrom string, log ...*slog.Logger) (*Monitor, *Signals, *Metrics, Target) {
	t.Helper()
	sig, metrics := NewSignals(), NewMetrics()
	opts := Options{Signals: sig, Metrics: metrics}
	if len(log) > 0 {
		opts.Logger = log[0]
	}
	m := newTestMonitor(t, opts)
	c := fastCheck(KindHTTP)
	c.Interval, c.Timeout = 200*time.Millisecond, 150*time.Millisecond // room for the race detector
	c.Rise = 1
	c.LoadFrom = loadFrom
	tg := mustTarget(t, s.addrPort(), c)
	setTargets(t, m, tg)
	return m, sig, metrics, tg
}

func TestMonitorLoad(t *testing.T) {
	s := startLoadServer(t, http.StatusOK, "X-Load: 0.4", "ok")
	m, sig, metrics, tg := loadMonitor(t, s, "header:X-Load")
	var local []gslb.LoadSignal
	var localMu sync.Mutex
	sig.OnLocal(func(k Key, ls gslb.LoadSignal) {
		if k != tg.Key() {
			t.Errorf("OnLocal key %s", k)
		}
		localMu.Lock()
		local = append(local, ls)
		localMu.Unlock()
	})
	waitFor(t, "a load reading", func() bool { _, ok := sig.Target(tg.Key()); return ok })
	got, _ := sig.Target(tg.Key())
	if got.Value != 0.4 || got.Source != SignalProbe || time.Since(got.At) > 5*time.Second || time.Until(got.At) > 0 {
		t.Errorf("reading %+v, want 0.4 from probe, read just now", got)
	}
	waitFor(t, "the target up", func() bool { st, _ := m.TargetStatus(tg.Key()); return st.State == StateUp })
	st, _ := m.TargetStatus(tg.Key())
	if st.Load == nil || *st.Load != 0.4 || st.LoadError != "" || st.LoadAt.IsZero() {
		t.Errorf("status load %v at %v, error %q", st.Load, st.LoadAt, st.LoadError)
	}
	b, _ := json.Marshal(st)
	if !strings.Contains(string(b), `"load":0.4`) || strings.Contains(string(b), "load_error") {
		t.Errorf("status JSON %s", b)
	}
	// The callback is set after the monitor started, so the first
	// reading may have come before it: wait for one it saw.
	waitFor(t, "OnLocal to see a reading", func() bool { localMu.Lock(); defer localMu.Unlock(); return len(local) > 0 })
	localMu.Lock()
	if local[0].Value != 0.4 {
		t.Errorf("OnLocal saw %v", local)
	}
	localMu.Unlock()

	// The load changes: the next probe stores it.
	s.set("X-Load: 2", "ok")
	waitFor(t, "the new load", func() bool { r, _ := sig.Target(tg.Key()); return r.Value == 2 })

	// A load that cannot be read leaves the target up and the last
	// reading in place, and says why.
	s.set("X-Load: lots", "ok")
	waitFor(t, "a load error", func() bool { st, _ := m.TargetStatus(tg.Key()); return st.LoadError != "" })
	st, _ = m.TargetStatus(tg.Key())
	if st.State != StateUp || !strings.Contains(st.LoadError, `"lots" is not a number`) || st.Load == nil || *st.Load != 2 {
		t.Errorf("after a bad load: state %s, load %v, error %q", st.State, st.Load, st.LoadError)
	}
	if r, ok := sig.Target(tg.Key()); !ok || r.Value != 2 {
		t.Errorf("reading after a bad load: %+v, %v; want the last one kept", r, ok)
	}
	if v := counterValue(t, metrics, "meridian_health_load_read_errors_total", map[string]string{"target": tg.Label()}); v < 1 {
		t.Errorf("load read errors = %v", v)
	}
	if b, _ := json.Marshal(st); !strings.Contains(string(b), `"load_error":"load: header X-Load:`) {
		t.Errorf("status JSON %s", b)
	}
	s.set("X-Load: 1", "ok")
	waitFor(t, "the error cleared", func() bool { st, _ := m.TargetStatus(tg.Key()); return st.LoadError == "" })

	// Removed, the target's reading is forgotten, and its series.
	setTargets(t, m)
	if r, ok := sig.Target(tg.Key()); ok {
		t.Errorf("reading %+v kept after removal", r)
	}
	if _, ok := metricValue(t, registryOf(t, metrics), "meridian_health_load_read_errors_total", nil, map[string]string{"target": tg.Label()}); ok {
		t.Error("load error series kept after removal")
	}
}

// A backend that reports its free capacity gives the signals a load of
// 1 - capacity: what shedding and spare_weights read.
func TestMonitorLoadCapacity(t *testing.T) {
	s := startLoadServer(t, http.StatusOK, "X-Free: 0.25", "ok")
	_, sig, _, tg := loadMonitor(t, s, "capacity:header:X-Free")
	waitFor(t, "a load of 0.75", func() bool { r, ok := sig.Target(tg.Key()); return ok && r.Value == 0.75 })
	s.set("X-Free: 1", "ok")
	waitFor(t, "a load of 0", func() bool { r, _ := sig.Target(tg.Key()); return r.Value == 0 })
}

// lockedBuffer is a log destination safe for the probe goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A member that never gives a readable load stays up: the load is not
// its health. The error is logged once a minute, not once a probe.
func TestMonitorLoadErrorKeepsUp(t *testing.T) {
	s := startLoadServer(t, http.StatusOK, "", `{"stats": {}}`)
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, sig, metrics, tg := loadMonitor(t, s, "json:stats.cpu", log)
	waitFor(t, "the target up", func() bool { st, _ := m.TargetStatus(tg.Key()); return st.State == StateUp && st.Probes >= 3 })
	st, _ := m.TargetStatus(tg.Key())
	if st.Load != nil || !strings.Contains(st.LoadError, `no key "stats.cpu"`) || st.Failures != 0 {
		t.Errorf("status: load %v, error %q, failures %d", st.Load, st.LoadError, st.Failures)
	}
	if r, ok := sig.Target(tg.Key()); ok {
		t.Errorf("reading %+v stored from an unreadable load", r)
	}
	if v := counterValue(t, metrics, "meridian_health_load_read_errors_total", map[string]string{"target": tg.Label()}); v < 3 {
		t.Errorf("load read errors = %v after %d probes", v, st.Probes)
	}
	if v := counterValue(t, metrics, "meridian_health_probe_failures_total", map[string]string{"target": tg.Label(), "reason": "other"}); v != 0 {
		t.Errorf("probe failures = %v", v)
	}
	if n := strings.Count(logs.String(), "health target load not read"); n != 1 {
		t.Errorf("%d load warnings after %d probes, want 1:\n%s", n, st.Probes, logs.String())
	}
}

// A target without load_from has no load error series, and its probes
// store nothing.
func TestMonitorNoLoadFrom(t *testing.T) {
	s := startLoadServer(t, http.StatusOK, "X-Load: 1", "1")
	m, sig, metrics, tg := loadMonitor(t, s, "")
	waitFor(t, "the target up", func() bool { st, _ := m.TargetStatus(tg.Key()); return st.State == StateUp })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics)
	if _, ok := metricValue(t, reg, "meridian_health_load_read_errors_total", nil, map[string]string{"target": tg.Label()}); ok {
		t.Error("a load error series for a check without load_from")
	}
	if _, ok := sig.Target(tg.Key()); ok {
		t.Error("a reading without load_from")
	}
}

// storeLoad keeps the newest reading, and one that lands after its target
// was removed is taken back.
func TestMonitorStoreLoadOrder(t *testing.T) {
	sig := NewSignals()
	m := newTestMonitor(t, Options{Signals: sig, NewProber: func(Target) (Prober, error) {
		return ProberFunc(func(context.Context) error { return nil }), nil
	}})
	tg := mustTarget(t, netip.MustParseAddrPort("127.10.9.1:80"), Check{Kind: KindHTTP, Interval: time.Hour})
	setTargets(t, m, tg)
	m.mu.Lock()
	tt := m.targets[tg.Key()]
	m.mu.Unlock()
	now := time.Now()
	m.storeLoad(tt, 1000, gslb.LoadSignal{Value: 5, At: now, Source: SignalProbe})
	m.storeLoad(tt, 999, gslb.LoadSignal{Value: 4, At: now.Add(-time.Second), Source: SignalProbe})
	if r, _ := sig.Target(tg.Key()); r.Value != 5 {
		t.Errorf("reading %v, want the newer probe's 5", r.Value)
	}
	setTargets(t, m)
	if _, ok := sig.Target(tg.Key()); ok {
		t.Error("reading kept after removal")
	}
	m.storeLoad(tt, 1001, gslb.LoadSignal{Value: 6, At: now, Source: SignalProbe})
	if r, ok := sig.Target(tg.Key()); ok {
		t.Errorf("reading %+v stored for a removed target", r)
	}
}
