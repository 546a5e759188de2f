package health

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/gslb"
)

// promSample is one sample of a fake vector result.
type promSample struct {
	labels map[string]string
	value  string // Prometheus writes values as strings: "0.5", "NaN", "+Inf"
}

func sample(label, lv, value string) promSample {
	return promSample{labels: map[string]string{"__name__": "load", label: lv}, value: value}
}

// fakeProm is a loopback Prometheus answering /api/v1/query from a
// function of the query and the time parameter.
type fakeProm struct {
	srv   *httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	// answer returns the HTTP status and the JSON body for a query.
	answer  func(r *http.Request, query string, ts float64) (int, string)
	methods []string
}

func newFakeProm(t *testing.T, answer func(r *http.Request, query string, ts float64) (int, string)) *fakeProm {
	t.Helper()
	f := &fakeProm{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ts, err := strconv.ParseFloat(r.Form.Get("time"), 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":"bad time %q"}`, r.Form.Get("time"))
			return
		}
		f.mu.Lock()
		f.methods = append(f.methods, r.Method)
		answer := f.answer
		f.mu.Unlock()
		code, body := answer(r, r.Form.Get("query"), ts)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProm) set(answer func(r *http.Request, query string, ts float64) (int, string)) {
	f.mu.Lock()
	f.answer = answer
	f.mu.Unlock()
}

// vectorJSON is a successful instant vector answer stamped ts.
func vectorJSON(ts float64, samples ...promSample) string {
	type result struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	res := make([]result, 0, len(samples))
	for _, s := range samples {
		res = append(res, result{Metric: s.labels, Value: [2]any{ts, s.value}})
	}
	b, err := json.Marshal(map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": "vector", "result": res},
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// vectors answers each query with its samples.
func vectors(byQuery map[string][]promSample) func(*http.Request, string, float64) (int, string) {
	return func(_ *http.Request, q string, ts float64) (int, string) {
		s, ok := byQuery[q]
		if !ok {
			return http.StatusBadRequest, `{"status":"error","errorType":"bad_data","error":"unknown query"}`
		}
		return http.StatusOK, vectorJSON(ts, s...)
	}
}

func promMember(site string, addrs ...string) gslb.Member {
	m := gslb.Member{Site: site, Weight: 1}
	for _, a := range addrs {
		m.Addresses = append(m.Addresses, netip.MustParseAddr(a))
	}
	return m
}

type promFixture struct {
	src     *PromSource
	sig     *Signals
	metrics *PromMetrics
}

func newPromFixture(t *testing.T, url string, opts PromOptions) promFixture {
	t.Helper()
	f := promFixture{sig: NewSignals(), metrics: NewPromMetrics()}
	opts.URL, opts.Signals, opts.Metrics = url, f.sig, f.metrics
	prometheus.NewPedanticRegistry().MustRegister(f.metrics)
	f.src = NewPromSource(opts)
	return f
}

func (f promFixture) load(t *testing.T, service string, m gslb.Member) (float64, bool) {
	t.Helper()
	sig, ok := f.sig.Member(service, m.ID())
	if ok && sig.Source != SignalPrometheus {
		t.Errorf("%s %s: source %q, want %q", service, m.ID(), sig.Source, SignalPrometheus)
	}
	return sig.Value, ok
}

func (f promFixture) wantLoad(t *testing.T, service string, m gslb.Member, want float64) {
	t.Helper()
	got, ok := f.load(t, service, m)
	if !ok {
		t.Errorf("%s %s: no reading, want %v", service, m.ID(), want)
	} else if got != want {
		t.Errorf("%s %s: load %v, want %v", service, m.ID(), got, want)
	}
}

func (f promFixture) wantNoLoad(t *testing.T, service string, m gslb.Member) {
	t.Helper()
	if got, ok := f.load(t, service, m); ok {
		t.Errorf("%s %s: load %v, want no reading", service, m.ID(), got)
	}
}

func (f promFixture) status(t *testing.T, service string) PromStatus {
	t.Helper()
	for _, st := range f.src.Status() {
		if st.Service == service {
			return st
		}
	}
	t.Fatalf("no status for %s", service)
	return PromStatus{}
}

func TestPromMatchSite(t *testing.T) {
	const q = `avg by (site) (load)`
	fp := newFakeProm(t, vectors(map[string][]promSample{q: {
		sample("site", "a", "0.5"),
		sample("site", "B", "0.9"), // sites match regardless of case
		sample("site", "elsewhere", "1"),
		{labels: map[string]string{"other": "a"}, value: "1"}, // no site label
	}}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	a1, a2 := promMember("a", "192.0.2.1"), promMember("a", "192.0.2.2")
	b, c := promMember("b", "198.51.100.1"), promMember("c", "203.0.113.1")
	f.src.SetQueries([]PromQuery{{Service: "www.example.com.", Query: q, Members: []gslb.Member{a1, a2, b, c}}})
	before := time.Now()
	f.src.Evaluate(context.Background())

	f.wantLoad(t, "www.example.com.", a1, 0.5) // two members of one site: both
	f.wantLoad(t, "www.example.com.", a2, 0.5)
	f.wantLoad(t, "www.example.com.", b, 0.9)
	f.wantNoLoad(t, "www.example.com.", c)
	sig, _ := f.sig.Member("www.example.com.", a1.ID())
	if sig.At.Before(before.Add(-time.Millisecond)) || sig.At.After(time.Now()) {
		t.Errorf("At %v, want the evaluation time (after %v)", sig.At, before)
	}

	st := f.status(t, "www.example.com.")
	if !st.OK || st.LastError != "" || st.Samples != 4 || st.SamplesMatched != 2 || st.MembersMatched != 3 || st.Members != 4 {
		t.Errorf("status %+v", st)
	}
	if st.MatchLabel != "site" || st.MatchOn != gslb.MatchSite || st.Query != q {
		t.Errorf("status defaults %+v", st)
	}
	if len(st.Unmatched) != 2 || !strings.Contains(st.Unmatched[1], "elsewhere") {
		t.Errorf("unmatched %q", st.Unmatched)
	}
	if got := testutil.ToFloat64(f.metrics.ignored.WithLabelValues("www.example.com.", "unmatched")); got != 2 {
		t.Errorf("unmatched samples counted %v, want 2", got)
	}
	if got := testutil.ToFloat64(f.metrics.lastSuccess.WithLabelValues("www.example.com.")); got < float64(before.Unix()) {
		t.Errorf("last success %v, want after %v", got, before.Unix())
	}
	if got := testutil.ToFloat64(f.metrics.members.WithLabelValues("www.example.com.")); got != 3 {
		t.Errorf("members matched %v, want 3", got)
	}
}

func TestPromMatchAddress(t *testing.T) {
	const q = `node_load1`
	fp := newFakeProm(t, vectors(map[string][]promSample{q: {
		sample("instance", "192.0.2.1:9100", "1"),
		sample("instance", "[::1]:9100", "2"),
		sample("instance", "2001:db8::7", "3"),          // a bare address
		sample("instance", "[2001:db8::8]:9100", "3.5"), // the member's second address
		sample("instance", "LB.example.net:443", "4"),   // a hostname member
		sample("instance", "198.51.100.9:9100", "5"),    // a probe address
		sample("instance", "192.0.2.200:9100", "6"),     // nobody's
	}}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	v4, v6 := promMember("a", "192.0.2.1"), promMember("b", "::1")
	dual := promMember("c", "192.0.2.7", "2001:db8::7")
	second := promMember("c", "192.0.2.8", "2001:db8::8")
	host := gslb.Member{Site: "d", Hostname: "lb.example.net.", Weight: 1}
	nat := promMember("e", "203.0.113.9")
	nat.ProbeAddress = netip.MustParseAddr("198.51.100.9")
	other := promMember("f", "192.0.2.100")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: q, MatchLabel: "instance", MatchOn: " Address ",
		Members: []gslb.Member{v4, v6, dual, second, host, nat, other}}})
	f.src.Evaluate(context.Background())

	f.wantLoad(t, "s.", v4, 1)
	f.wantLoad(t, "s.", v6, 2)
	f.wantLoad(t, "s.", dual, 3)
	f.wantLoad(t, "s.", second, 3.5)
	f.wantLoad(t, "s.", host, 4)
	f.wantLoad(t, "s.", nat, 5)
	f.wantNoLoad(t, "s.", other)
	st := f.status(t, "s.")
	if !st.OK || st.MatchOn != gslb.MatchAddress || st.SamplesMatched != 6 || st.MembersMatched != 6 ||
		len(st.Unmatched) != 1 || !strings.Contains(st.Unmatched[0], "192.0.2.200:9100") {
		t.Errorf("status %+v", st)
	}
}

func TestPromMatchMember(t *testing.T) {
	const q = `meridian_member_load`
	a, b := promMember("a", "192.0.2.1"), promMember("a", "192.0.2.2")
	host := gslb.Member{Site: "b", Hostname: "lb.example.net.", Weight: 1}
	fp := newFakeProm(t, vectors(map[string][]promSample{q: {
		sample("member", a.ID(), "0.25"),
		sample("member", host.ID(), "0.75"),
		sample("member", "a", "1"), // a site is not a member
	}}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: q, MatchLabel: "member", MatchOn: gslb.MatchMember,
		Members: []gslb.Member{a, b, host}}})
	f.src.Evaluate(context.Background())
	f.wantLoad(t, "s.", a, 0.25)
	f.wantNoLoad(t, "s.", b)
	f.wantLoad(t, "s.", host, 0.75)
	if st := f.status(t, "s."); st.MembersMatched != 2 || len(st.Unmatched) != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestPromHighestSampleAndInvalidValues(t *testing.T) {
	const q = `load`
	fp := newFakeProm(t, vectors(map[string][]promSample{q: {
		sample("site", "a", "0.3"),
		sample("site", "a", "0.8"),
		sample("site", "a", "0.6"),
		sample("site", "a", "+Inf"), // skipped, not the highest
		sample("site", "b", "NaN"),
		sample("site", "b", "-1"),
		sample("site", "c", "0"),
	}}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	a, b, c := promMember("a", "192.0.2.1"), promMember("b", "192.0.2.2"), promMember("c", "192.0.2.3")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: q, Members: []gslb.Member{a, b, c}}})
	f.src.Evaluate(context.Background())
	f.wantLoad(t, "s.", a, 0.8)
	f.wantNoLoad(t, "s.", b)
	f.wantLoad(t, "s.", c, 0)
	st := f.status(t, "s.")
	if st.Invalid != 3 || st.SamplesMatched != 4 || st.MembersMatched != 2 {
		t.Errorf("status %+v", st)
	}
	if got := testutil.ToFloat64(f.metrics.ignored.WithLabelValues("s.", "invalid")); got != 3 {
		t.Errorf("invalid samples counted %v, want 3", got)
	}
}

func TestPromErrorKeepsReadings(t *testing.T) {
	const q = `load`
	fp := newFakeProm(t, vectors(map[string][]promSample{q: {sample("site", "a", "0.7")}}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	a := promMember("a", "192.0.2.1")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: q, Members: []gslb.Member{a}}})
	f.src.Evaluate(context.Background())
	f.wantLoad(t, "s.", a, 0.7)
	first, _ := f.sig.Member("s.", a.ID())

	errs := []struct {
		name   string
		answer func(*http.Request, string, float64) (int, string)
		want   string
	}{
		{"PromQL error", func(*http.Request, string, float64) (int, string) {
			return http.StatusBadRequest, `{"status":"error","errorType":"bad_data","error":"parse error at char 3"}`
		}, "parse error"},
		{"HTTP error", func(*http.Request, string, float64) (int, string) {
			return http.StatusBadGateway, `<html>bad gateway</html>`
		}, "502"},
		{"scalar", func(_ *http.Request, _ string, ts float64) (int, string) {
			return http.StatusOK, fmt.Sprintf(`{"status":"success","data":{"resultType":"scalar","result":[%v,"1"]}}`, ts)
		}, "instant vector, got a scalar"},
		{"matrix", func(_ *http.Request, _ string, ts float64) (int, string) {
			return http.StatusOK, fmt.Sprintf(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"site":"a"},"values":[[%v,"1"]]}]}}`, ts)
		}, "instant vector, got a matrix"},
	}
	for i, e := range errs {
		fp.set(e.answer)
		f.src.Evaluate(context.Background())
		st := f.status(t, "s.")
		if st.OK || !strings.Contains(st.LastError, e.want) || st.Errors != uint64(i+1) {
			t.Errorf("%s: status %+v, want an error with %q", e.name, st, e.want)
		}
		if sig, ok := f.sig.Member("s.", a.ID()); !ok || sig != first {
			t.Errorf("%s: reading %+v %v, want the last one kept: %+v", e.name, sig, ok, first)
		}
		if got := testutil.ToFloat64(f.metrics.errors.WithLabelValues("s.")); got != float64(i+1) {
			t.Errorf("%s: errors_total %v, want %d", e.name, got, i+1)
		}
	}

	// Unreachable.
	fp.srv.Close()
	f.src.Evaluate(context.Background())
	if st := f.status(t, "s."); st.OK || st.Errors != uint64(len(errs)+1) || st.SamplesMatched != 1 || st.LastSuccess.IsZero() {
		t.Errorf("unreachable: status %+v", st)
	}
	f.wantLoad(t, "s.", a, 0.7)
	if got := testutil.ToFloat64(f.metrics.errors.WithLabelValues("s.")); got != float64(len(errs)+1) {
		t.Errorf("errors_total %v, want %d", got, len(errs)+1)
	}
	if n := testutil.CollectAndCount(f.metrics, "meridian_load_prometheus_query_seconds"); n != 1 {
		t.Errorf("query_seconds series %d, want 1", n)
	}
}

func TestPromRecoversAndDropsUnansweredMembers(t *testing.T) {
	const q = `load`
	fp := newFakeProm(t, vectors(map[string][]promSample{q: {sample("site", "a", "0.7"), sample("site", "b", "0.2")}}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	a, b := promMember("a", "192.0.2.1"), promMember("b", "192.0.2.2")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: q, Members: []gslb.Member{a, b}}})
	f.src.Evaluate(context.Background())
	f.wantLoad(t, "s.", b, 0.2)

	// A successful answer without b: b has no Prometheus reading any more.
	fp.set(vectors(map[string][]promSample{q: {sample("site", "a", "0.9")}}))
	f.src.Evaluate(context.Background())
	f.wantLoad(t, "s.", a, 0.9)
	f.wantNoLoad(t, "s.", b)
	if st := f.status(t, "s."); !st.OK || st.MembersMatched != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestPromSetQueries(t *testing.T) {
	fp := newFakeProm(t, vectors(map[string][]promSample{
		"q1": {sample("site", "a", "0.1"), sample("site", "b", "0.2")},
		"q2": {sample("site", "a", "0.3")},
		"q3": {sample("site", "a", "0.4")},
	}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	a, b := promMember("a", "192.0.2.1"), promMember("b", "192.0.2.2")
	f.src.SetQueries([]PromQuery{
		{Service: "one.", Query: "q1", Members: []gslb.Member{a, b}},
		{Service: "two.", Query: "q2", Members: []gslb.Member{a}},
	})
	f.src.Evaluate(context.Background())
	f.wantLoad(t, "one.", a, 0.1)
	f.wantLoad(t, "one.", b, 0.2)
	f.wantLoad(t, "two.", a, 0.3)
	if n := testutil.CollectAndCount(f.metrics, "meridian_load_prometheus_last_success_timestamp_seconds"); n != 2 {
		t.Errorf("last_success series %d, want 2", n)
	}

	// two. is no longer queried, one. lost member b: their readings go at
	// once; one.'s reading of a stays until the next evaluation.
	f.src.SetQueries([]PromQuery{{Service: "one.", Query: "q1", Members: []gslb.Member{a}}})
	f.wantNoLoad(t, "two.", a)
	f.wantNoLoad(t, "one.", b)
	f.wantLoad(t, "one.", a, 0.1)
	if st := f.src.Status(); len(st) != 1 || st[0].Service != "one." || st[0].Members != 1 || !st[0].OK {
		t.Errorf("status %+v", st)
	}
	if n := testutil.CollectAndCount(f.metrics, "meridian_load_prometheus_last_success_timestamp_seconds"); n != 1 {
		t.Errorf("last_success series %d, want 1 (two.'s deleted)", n)
	}
	if n := testutil.CollectAndCount(f.metrics, "meridian_load_prometheus_errors_total"); n != 1 {
		t.Errorf("errors_total series %d, want 1 (two.'s deleted)", n)
	}

	// A changed query takes effect at the next evaluation, with a fresh
	// history.
	f.src.SetQueries([]PromQuery{{Service: "one.", Query: "q3", Members: []gslb.Member{a}}})
	if st := f.status(t, "one."); st.Query != "q3" || st.OK || !st.LastEvaluation.IsZero() {
		t.Errorf("status after a new query %+v", st)
	}
	f.wantLoad(t, "one.", a, 0.1)
	f.src.Evaluate(context.Background())
	f.wantLoad(t, "one.", a, 0.4)

	f.src.SetQueries(nil)
	f.wantNoLoad(t, "one.", a)
	if st := f.src.Status(); len(st) != 0 {
		t.Errorf("status %+v, want none", st)
	}
}

// An evaluation in flight when its service is dropped does not bring the
// readings back.
func TestPromSetQueriesDuringEvaluation(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	fp := newFakeProm(t, func(_ *http.Request, _ string, ts float64) (int, string) {
		close(arrived)
		<-release
		return http.StatusOK, vectorJSON(ts, sample("site", "a", "0.5"))
	})
	f := newPromFixture(t, fp.srv.URL, PromOptions{})
	a := promMember("a", "192.0.2.1")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: "load", Members: []gslb.Member{a}}})
	done := make(chan struct{})
	go func() {
		f.src.Evaluate(context.Background())
		close(done)
	}()
	<-arrived
	f.src.SetQueries(nil)
	close(release)
	<-done
	f.wantNoLoad(t, "s.", a)
}

func TestPromTimeout(t *testing.T) {
	fp := newFakeProm(t, func(r *http.Request, q string, ts float64) (int, string) {
		if q == "slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		return http.StatusOK, vectorJSON(ts, sample("site", "a", "0.5"))
	})
	const timeout = 200 * time.Millisecond
	f := newPromFixture(t, fp.srv.URL, PromOptions{Timeout: timeout, Interval: time.Minute, Concurrency: 2})
	a := promMember("a", "192.0.2.1")
	var qs []PromQuery
	for i := range 4 {
		qs = append(qs, PromQuery{Service: fmt.Sprintf("slow%d.", i), Query: "slow", Members: []gslb.Member{a}})
	}
	qs = append(qs, PromQuery{Service: "z-fast.", Query: "fast", Members: []gslb.Member{a}})
	f.src.SetQueries(qs)

	start := time.Now()
	f.src.Evaluate(context.Background())
	// Four slow queries two at a time: two timeouts' worth, then the
	// fast one.
	if d := time.Since(start); d < 2*timeout || d > 2*timeout+2*time.Second {
		t.Errorf("evaluation took %s, want about %s", d, 2*timeout)
	}
	for i := range 4 {
		st := f.status(t, fmt.Sprintf("slow%d.", i))
		if st.OK || !strings.Contains(st.LastError, "timed out") || st.Errors != 1 {
			t.Errorf("slow%d: status %+v, want a timeout", i, st)
		}
		f.wantNoLoad(t, fmt.Sprintf("slow%d.", i), a)
	}
	f.wantLoad(t, "z-fast.", a, 0.5)
	if got := testutil.ToFloat64(f.metrics.errors.WithLabelValues("slow0.")); got != 1 {
		t.Errorf("errors_total %v, want 1", got)
	}
}

func TestPromRun(t *testing.T) {
	fp := newFakeProm(t, vectors(map[string][]promSample{"load": {sample("site", "a", "0.5")}}))
	f := newPromFixture(t, fp.srv.URL, PromOptions{Interval: 20 * time.Millisecond})
	if f.src.opts.Timeout != 20*time.Millisecond {
		t.Errorf("timeout %s, want the interval", f.src.opts.Timeout)
	}
	a := promMember("a", "192.0.2.1")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: "load", Members: []gslb.Member{a}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.src.Run(ctx)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for fp.calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if n := fp.calls.Load(); n < 3 {
		t.Fatalf("%d queries in 5 s, want at least 3", n)
	}
	f.wantLoad(t, "s.", a, 0.5)
	fp.mu.Lock()
	defer fp.mu.Unlock()
	for _, m := range fp.methods {
		if m != http.MethodPost && m != http.MethodGet {
			t.Errorf("method %s", m)
		}
	}
}

func TestPromBadOptions(t *testing.T) {
	f := newPromFixture(t, "", PromOptions{})
	a := promMember("a", "192.0.2.1")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: "load", Members: []gslb.Member{a}}})
	f.src.Evaluate(context.Background())
	if st := f.status(t, "s."); st.OK || !strings.Contains(st.LastError, "no Prometheus URL") {
		t.Errorf("status %+v", st)
	}

	fp := newFakeProm(t, vectors(map[string][]promSample{"load": {sample("site", "a", "0.5")}}))
	f = newPromFixture(t, fp.srv.URL, PromOptions{})
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: "load", MatchOn: "pod", Members: []gslb.Member{a}}})
	f.src.Evaluate(context.Background())
	if st := f.status(t, "s."); st.OK || !strings.Contains(st.LastError, "match_on") {
		t.Errorf("status %+v", st)
	}
	if n := fp.calls.Load(); n != 0 {
		t.Errorf("%d queries sent for a query that cannot match", n)
	}
}

func TestPromQueries(t *testing.T) {
	st := &gslb.State{Services: []gslb.Service{
		{Name: "plain.", Members: []gslb.Member{promMember("a", "192.0.2.1")}},
		{Name: "loaded.", Members: []gslb.Member{promMember("a", "192.0.2.1"), promMember("b", "192.0.2.2")},
			Policy: gslb.Policy{Load: gslb.LoadPolicy{Low: 0.5, High: 0.9, Prometheus: "load", MatchLabel: "instance", MatchOn: gslb.MatchAddress}}},
		{Name: "probed.", Policy: gslb.Policy{Load: gslb.LoadPolicy{Low: 0.5, High: 0.9}}},
	}}
	qs := PromQueries(st)
	if len(qs) != 1 {
		t.Fatalf("queries %+v, want one", qs)
	}
	q := qs[0]
	if q.Service != "loaded." || q.Query != "load" || q.MatchLabel != "instance" || q.MatchOn != gslb.MatchAddress || len(q.Members) != 2 {
		t.Errorf("query %+v", q)
	}
	q.Members[0].Site = "changed"
	if st.Services[1].Members[0].Site != "a" {
		t.Error("PromQueries shares the State's members")
	}
	if PromQueries(nil) != nil {
		t.Error("PromQueries(nil) not nil")
	}
}

// promLogs counts the records logged at warn and above.
type promLogs struct {
	mu   sync.Mutex
	msgs []string
}

func (l *promLogs) Enabled(context.Context, slog.Level) bool { return true }
func (l *promLogs) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		l.mu.Lock()
		l.msgs = append(l.msgs, r.Message)
		l.mu.Unlock()
	}
	return nil
}
func (l *promLogs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *promLogs) WithGroup(string) slog.Handler      { return l }

func (l *promLogs) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func TestPromLogsOncePerChange(t *testing.T) {
	fp := newFakeProm(t, vectors(map[string][]promSample{"load": {sample("site", "a", "0.5"), sample("site", "x", "1")}}))
	logs := &promLogs{}
	f := newPromFixture(t, fp.srv.URL, PromOptions{Logger: slog.New(logs)})
	a := promMember("a", "192.0.2.1")
	f.src.SetQueries([]PromQuery{{Service: "s.", Query: "load", Members: []gslb.Member{a}}})
	for range 3 {
		f.src.Evaluate(context.Background())
	}
	if n := logs.count("match no member"); n != 1 {
		t.Errorf("unmatched logged %d times, want 1", n)
	}
	if got := testutil.ToFloat64(f.metrics.ignored.WithLabelValues("s.", "unmatched")); got != 3 {
		t.Errorf("unmatched samples counted %v, want 3", got)
	}
	fp.set(vectors(map[string][]promSample{"load": {sample("site", "a", "0.5"), sample("site", "y", "1")}}))
	f.src.Evaluate(context.Background())
	if n := logs.count("match no member"); n != 2 {
		t.Errorf("unmatched logged %d times after a change, want 2", n)
	}

	fp.set(func(*http.Request, string, float64) (int, string) {
		return http.StatusBadRequest, `{"status":"error","errorType":"bad_data","error":"parse error"}`
	})
	for range 3 {
		f.src.Evaluate(context.Background())
	}
	if n := logs.count("query failed"); n != 1 {
		t.Errorf("error logged %d times, want 1", n)
	}
	if got := testutil.ToFloat64(f.metrics.errors.WithLabelValues("s.")); got != 3 {
		t.Errorf("errors_total %v, want 3", got)
	}
}
