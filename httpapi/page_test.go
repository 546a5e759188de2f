package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// getJSON GETs path from h and decodes the body into v; it returns the
// status code and the body.
func getJSON(t *testing.T, h http.Handler, path string, v any) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, rec.Body)
		}
	}
	return rec.Code, rec.Body.String()
}

// errorOf is the message of an Error body.
func errorOf(body string) string {
	var e Error
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error
}

// servicePages walks /api/v1/services with query, following next, and
// returns the names in order and the total of each page.
func servicePages(t *testing.T, h http.Handler, query string) (names []string, totals []int) {
	t.Helper()
	cur := ""
	for range 100 {
		path := "/api/v1/services?" + query
		if cur != "" {
			path += "&cursor=" + url.QueryEscape(cur)
		}
		var page servicesResponse
		if code, body := getJSON(t, h, path, &page); code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, s := range page.Services {
			names = append(names, s.Name)
		}
		totals = append(totals, page.Total)
		if cur = page.Next; cur == "" {
			return names, totals
		}
	}
	t.Fatalf("%s: more than 100 pages", query)
	return
}

func TestServicesPagesAndFilters(t *testing.T) {
	h := testAPI(t, func() (bool, string) { return true, "" }).Config.Handler
	all := []string{"app.gslb.example.", "db.gslb.example.", "topo.gslb.example.", "www.gslb.example."}
	for _, tc := range []struct {
		query string
		want  []string
		pages int
	}{
		{"limit=1", all, 4},
		{"limit=3", all, 2},
		{"", all, 1},
		{"service=WWW.gslb.example", all[3:], 1},
		{"service=www.gslb.example.&site=us-east", all[3:], 1},
		{"service=www.gslb.example.&site=eu-west&prefix=a", nil, 1},
		{"prefix=T", all[2:3], 1},
		{"prefix=xyz", nil, 1},
		{"site=AP-south&limit=1", []string{"topo.gslb.example.", "www.gslb.example."}, 2},
		{"site=eu-west&prefix=d", all[1:2], 1},
	} {
		names, totals := servicePages(t, h, tc.query)
		if !slices.Equal(names, tc.want) || len(totals) != tc.pages {
			t.Errorf("%s: %v in %d pages, want %v in %d", tc.query, names, len(totals), tc.want, tc.pages)
		}
		for _, n := range totals {
			if n != len(tc.want) {
				t.Errorf("%s: total %d, want %d on every page", tc.query, n, len(tc.want))
			}
		}
	}
	for query, want := range map[string]string{
		"service=nope.gslb.example": `service: unknown service "nope.gslb.example"`,
		"site=mars":                 `site: unknown site "mars"`,
	} {
		if code, body := getJSON(t, h, "/api/v1/services?"+query, &servicesResponse{}); code != http.StatusNotFound || errorOf(body) != want {
			t.Errorf("%s: %d %s, want 404 %q", query, code, body, want)
		}
	}
}

// A bad parameter is a 400 naming it; an unknown one too, so that a typo
// never returns the whole list.
func TestListParameterErrors(t *testing.T) {
	h := testAPI(t, func() (bool, string) { return true, "" }).Config.Handler
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/services?limit=0", `limit: want a number from 1 to 1000, got "0"`},
		{"/api/v1/services?limit=1001", `limit: want a number from 1 to 1000, got "1001"`},
		{"/api/v1/health?limit=ten", `limit: want a number from 1 to 1000, got "ten"`},
		{"/api/v1/services?cursor=abc", `cursor: not a cursor from this API`},
		{"/api/v1/health?cursor=" + cursor{Target: "1.2.3.4"}.String(), `cursor: not a cursor from this API`},
		{"/api/v1/services?servce=app", `unknown parameter "servce": this endpoint takes limit, cursor, service, prefix, site`},
		{"/api/v1/services?state=down", `unknown parameter "state"`},
		{"/api/v1/services?site=a&site=b", `site: given 2 times, want it once`},
		{"/api/v1/health?state=drained", `state: want up, down or unknown, got "drained"`},
		{"/api/v1/health?b=1&a=2", `unknown parameter "a", "b": this endpoint takes limit, cursor, service, prefix, site, state`},
		{"/api/v1/config?services=all", `unknown parameter "services": this endpoint takes none`},
		{"/api/v1/explain?name=app.gslb.example&client=192.0.2.1&typ=AAAA", `unknown parameter "typ": this endpoint takes name, type, client`},
	} {
		var e Error
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &e) != nil || !strings.HasPrefix(e.Error, tc.want) {
			t.Errorf("%s: %d %s, want 400 %q", tc.path, rec.Code, rec.Body, tc.want)
		}
	}
}

// healthPages walks /api/v1/health with query, following next, and
// returns the target keys and service names in order, and the last page.
func healthPages(t *testing.T, h http.Handler, query string) (targets, services []string, last healthResponse) {
	t.Helper()
	cur := ""
	for range 100 {
		path := "/api/v1/health?" + query
		if cur != "" {
			path += "&cursor=" + url.QueryEscape(cur)
		}
		var page healthResponse
		if code, body := getJSON(t, h, path, &page); code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, tg := range page.Targets {
			targets = append(targets, tg.Key.String())
		}
		for _, s := range page.Services {
			services = append(services, s.Name)
		}
		if cur = page.Next; cur == "" {
			return targets, services, page
		}
	}
	t.Fatalf("%s: more than 100 pages", query)
	return
}

func TestHealthPagesAndFilters(t *testing.T) {
	const n = 30 // 90 targets: every member probed at its own address
	a := scaleAPI(t, n, false)
	h := a.Routes()
	// app0 .. app29 by name: app0, app1, app10 .. app19, app2, app20 ..
	var byName []string
	for i := range n {
		byName = append(byName, fmt.Sprintf("app%d.scale.example.", i))
	}
	slices.Sort(byName)
	atSite2 := slices.DeleteFunc(slices.Clone(byName), func(name string) bool {
		var i int
		fmt.Sscanf(name, "app%d.", &i)
		return i%5 != 2 && (i+1)%5 != 2 && (i+2)%5 != 2 // members at sites i, i+1, i+2 (mod 5)
	})
	for _, tc := range []struct {
		query             string
		targets           int
		services          []string
		targetsTotal      int // -1: absent
		servicesTotalWant int
	}{
		{"limit=7", 3 * n, byName, 3 * n, n},
		{"limit=1000", 3 * n, byName, 3 * n, n},
		{"service=App7.scale.example&limit=1", 3, []string{"app7.scale.example."}, 3, 1},
		{"service=app7.scale.example&site=s0", 0, nil, 0, 0}, // app7's members are at s2, s3, s4
		{"service=app7.scale.example&site=s3", 1, []string{"app7.scale.example."}, 1, 1},
		{"site=s2&limit=5", len(atSite2), atSite2, len(atSite2), len(atSite2)},
		{"prefix=app1&limit=4", 3 * 11, byName[1:12], -1, 11},
		// The member at s1 of app1, app10, app11, app14, app15, app16, app19.
		{"prefix=app1&site=s1", 7, []string{"app1.scale.example.", "app10.scale.example.", "app11.scale.example.", "app14.scale.example.", "app15.scale.example.", "app16.scale.example.", "app19.scale.example."}, -1, 7},
	} {
		targets, services, last := healthPages(t, h, tc.query)
		if !slices.Equal(services, tc.services) {
			t.Errorf("%s: services %v, want %v", tc.query, services, tc.services)
		}
		if len(targets) != tc.targets || !slices.IsSortedFunc(targets, func(x, y string) int { return compareKeys(mustKey(t, x), mustKey(t, y)) }) ||
			len(slices.Compact(slices.Clone(targets))) != len(targets) {
			t.Errorf("%s: %d targets, want %d, sorted, no repeats: %v", tc.query, len(targets), tc.targets, targets)
		}
		if got := totalOf(last.TargetsTotal); got != tc.targetsTotal {
			t.Errorf("%s: targets_total %d, want %d", tc.query, got, tc.targetsTotal)
		}
		if got := totalOf(last.ServicesTotal); got != tc.servicesTotalWant {
			t.Errorf("%s: services_total %d, want %d", tc.query, got, tc.servicesTotalWant)
		}
	}
	for query, want := range map[string]string{
		"site=s8":                     `site: unknown site "s8"`,
		"service=app99.scale.example": `service: unknown service "app99.scale.example"`,
	} {
		if code, body := getJSON(t, h, "/api/v1/health?"+query, &healthResponse{}); code != http.StatusNotFound || errorOf(body) != want {
			t.Errorf("%s: %d %s, want 404 %q", query, code, body, want)
		}
	}
}

func mustKey(t *testing.T, s string) health.Key {
	t.Helper()
	var k health.Key
	if err := k.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return k
}

func totalOf(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// The state filter keeps the targets whose probe is in that state and the
// services with a member whose health is that; it reads the real probes.
func TestHealthStateFilter(t *testing.T) {
	ln, err := net.Listen("tcp", memberProbe(4, 1).String()+":7070") // app4's second member
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	h := scaleAPI(t, 10, false).Routes()
	deadline := time.Now().Add(20 * time.Second)
	for {
		targets, services, last := healthPages(t, h, "state=up&limit=2")
		if len(targets) == 1 && strings.HasPrefix(targets[0], "127.78.0.13:7070#") && slices.Equal(services, []string{"app4.scale.example."}) {
			if last.TargetsTotal != nil || last.ServicesTotal != nil {
				t.Errorf("state=up: totals %v %v, want none (counting them reads every one)", last.TargetsTotal, last.ServicesTotal)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state=up: targets %v services %v, want app4's 127.78.0.13 only", targets, services)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		targets, services, _ := healthPages(t, h, "state=down&limit=3")
		if len(targets) == 29 && len(services) == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state=down: %d targets %d services, want 29 and 10", len(targets), len(services))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A target shared by many services lists the first maxTargetUsers of
// them and counts them all.
func TestTargetUsersBounded(t *testing.T) {
	h := scaleAPI(t, 50, true).Routes()
	var page healthResponse
	if code, body := getJSON(t, h, "/api/v1/health?site=s0&limit=1000", &page); code != http.StatusOK || len(page.Targets) != 1 {
		t.Fatalf("%d %s", code, body)
	}
	tg := page.Targets[0]
	// Site s0's members are those of services 0, 3, 4, 5, 8, 9, ... (i%5
	// in 0, 3, 4): 30 of 50, one member each.
	if len(tg.Services) != maxTargetUsers || len(tg.Members) != maxTargetUsers || tg.ServicesTotal != 30 || tg.MembersTotal != 30 ||
		tg.Services[0] != "app0.scale.example." || tg.Members[0] != (gslb.MemberRef{Service: "app0.scale.example.", Member: "s0/10.0.0.1"}) ||
		!slices.IsSorted(tg.Services) {
		t.Errorf("shared target: %d services %d members (totals %d %d): %v %v", len(tg.Services), len(tg.Members), tg.ServicesTotal, tg.MembersTotal, tg.Services, tg.Members)
	}
}

// A cursor names the last entry listed, not its position, so a page after
// a reload starts at the right place even when that entry is gone.
func TestCursorSurvivesRemoval(t *testing.T) {
	st := &gslb.State{}
	for _, name := range []string{"c.x.", "a.x.", "d.x.", "b.x."} {
		st.Services = append(st.Services, gslb.Service{Name: name})
	}
	x := newServiceIndex(st)
	if r := x.after("b.x."); x.service(r).Name != "c.x." {
		t.Errorf("after b.x.: %s, want c.x.", x.service(r).Name)
	}
	st.Services = slices.Delete(st.Services, 3, 4) // b.x. is gone
	x = newServiceIndex(st)
	if r := x.after("b.x."); x.service(r).Name != "c.x." {
		t.Errorf("after b.x., removed: %s, want c.x.", x.service(r).Name)
	}
	if r := x.after("d.x."); r != x.len() {
		t.Errorf("after the last: rank %d, want %d (the end)", r, x.len())
	}
}

// Without checks every member is unknown (answered as up): state=unknown
// keeps every service, up and down none.
func TestHealthStateWithoutChecks(t *testing.T) {
	h := testAPI(t, func() (bool, string) { return true, "" }).Config.Handler
	for state, want := range map[string]int{"unknown": 4, "up": 0, "down": 0} {
		targets, services, _ := healthPages(t, h, "limit=3&state="+state)
		if len(targets) != 0 || len(services) != want {
			t.Errorf("state=%s: targets %v services %v, want %d services", state, targets, services, want)
		}
	}
}

// A member that Kubernetes marks unready is down whatever the probes say
// (here there are none): state=down finds its service.
func TestHealthStateUnready(t *testing.T) {
	l, err := config.Load(config.Options{File: goodFixture})
	if err != nil {
		t.Fatal(err)
	}
	st := *l.State
	st.Services = slices.Clone(st.Services)
	db := &st.Services[2]
	if db.Name != "db.gslb.example." {
		t.Fatalf("service 2 is %s, want db", db.Name)
	}
	db.Members = slices.Clone(db.Members)
	db.Members[1].Unready = true
	l.State = &st
	store := &gslb.Store{}
	pub := control.NewPublisher(store, l.Config.HealthSettings(), slog.New(slog.DiscardHandler))
	t.Cleanup(pub.Stop)
	if err := pub.PublishConfig(l); err != nil {
		t.Fatal(err)
	}
	a := &API{Store: store, Pub: pub, Metrics: http.NotFoundHandler(), Log: slog.New(slog.DiscardHandler)}
	_, services, _ := healthPages(t, a.Routes(), "state=down")
	if !slices.Equal(services, []string{"db.gslb.example."}) {
		t.Errorf("state=down: %v, want the unready member's service", services)
	}
}
