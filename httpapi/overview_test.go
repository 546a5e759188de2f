package httpapi

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The overview: every site with its members' health and views, the
// answer share over the window, a page of services with a cursor.
func TestOverview(t *testing.T) {
	a := scaleAPI(t, 200, true)
	var counts atomic.Pointer[map[string]uint64]
	counts.Store(&map[string]uint64{"s0": 100, "s1": 50})
	a.Answers = func() map[string]uint64 { return *counts.Load() }
	h := a.Routes()
	settle(t, a, h) // every probe down (nothing listens)

	get := func(path string) overviewResponse {
		t.Helper()
		a.summary.last = nil // a fresh summary, not the one of the last second
		var o overviewResponse
		if err := json.Unmarshal(serve(t, h, path).Body.Bytes(), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := get("/api/v1/overview")
	if len(o.Sites) != 5 || o.ServicesTotal != 200 || len(o.Services) != defaultLimit || o.Next == "" || o.Node.Role != "standalone" {
		t.Fatalf("overview: %d sites, %d of %d services, next %q, node %+v", len(o.Sites), len(o.Services), o.ServicesTotal, o.Next, o.Node)
	}
	for _, s := range o.Sites {
		// 200 services x 3 members over 5 sites, all probed and down.
		if s.Health != "down" || s.Members != 120 || s.MembersUp != 0 || len(s.Views) != 1 || s.Views[0].Source != "local" || s.Views[0].Health != "down" {
			t.Errorf("site %s: %+v", s.Name, s)
		}
	}
	if o.AnswersTotal != 0 {
		t.Errorf("the first reading has no window yet, but counts %d answers", o.AnswersTotal)
	}
	svc := o.Services[0]
	if !svc.Degraded || len(svc.Members) != 3 || svc.Members[0].Health != "down" || len(svc.Members[0].Views) != 1 || svc.Members[0].Since == nil {
		t.Errorf("first service: %+v", svc)
	}

	// Answers since the first reading: s0 +30, s1 +10.
	counts.Store(&map[string]uint64{"s0": 130, "s1": 60})
	o = get("/api/v1/overview")
	share := map[string]float64{}
	for _, s := range o.Sites {
		share[s.Name] = s.AnswerShare
	}
	if o.AnswersTotal != 40 || share["s0"] != 0.75 || share["s1"] != 0.25 || share["s2"] != 0 || o.WindowSeconds <= 0 {
		t.Errorf("answers %d over %vs, shares %v; want 40 answers, s0 0.75, s1 0.25", o.AnswersTotal, o.WindowSeconds, share)
	}

	// The next page, and a filter.
	p2 := get("/api/v1/overview?cursor=" + o.Next)
	if len(p2.Services) == 0 || p2.Services[0].Name <= o.Services[len(o.Services)-1].Name {
		t.Errorf("the next page starts at %+v", p2.Services)
	}
	if f := get("/api/v1/overview?prefix=app1&limit=5"); len(f.Services) != 5 || !strings.HasPrefix(f.Services[0].Name, "app1") {
		t.Errorf("prefix filter: %+v", f.Services)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/overview?limit=0", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "limit") {
		t.Errorf("limit=0: %d %s", rec.Code, rec.Body)
	}
}

// The stream sends the overview as server-sent events, again and again.
func TestOverviewStream(t *testing.T) {
	old := overviewStreamInterval
	overviewStreamInterval = 20 * time.Millisecond
	t.Cleanup(func() { overviewStreamInterval = old })
	a := scaleAPI(t, 10, true)
	srv := httptest.NewServer(a.Routes())
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/api/v1/overview/stream?limit=2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	events := 0
	for events < 3 && sc.Scan() {
		line := sc.Text()
		if line == "event: overview" {
			if !sc.Scan() || !strings.HasPrefix(sc.Text(), "data: ") {
				t.Fatalf("an event without data: %q", sc.Text())
			}
			var o overviewResponse
			if err := json.Unmarshal([]byte(strings.TrimPrefix(sc.Text(), "data: ")), &o); err != nil {
				t.Fatal(err)
			}
			if len(o.Services) != 2 || len(o.Sites) != 5 {
				t.Fatalf("event %d: %d services, %d sites", events, len(o.Services), len(o.Sites))
			}
			events++
		}
	}
	if events < 3 {
		t.Fatalf("%d events, then %v", events, sc.Err())
	}

	bad, err := http.Get(srv.URL + "/api/v1/overview/stream?limit=x")
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad parameter: %d, want 400 before the stream starts", bad.StatusCode)
	}
}
