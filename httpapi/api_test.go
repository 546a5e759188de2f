package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/control"
	"github.com/meridian-gslb/meridian/gslb"
)

// goodFixture is the config package's test configuration.
const goodFixture = "../config/testdata/good.yaml"

// testAPI serves the API over the good fixture's snapshot, without a DNS
// server: readiness is whatever ready says.
func testAPI(t *testing.T, ready func() (bool, string)) *httptest.Server {
	t.Helper()
	l, err := config.Load(config.Options{File: goodFixture})
	if err != nil {
		t.Fatal(err)
	}
	store := &gslb.Store{}
	pub := control.NewPublisher(store, l.Config.HealthSettings(), slog.New(slog.DiscardHandler))
	t.Cleanup(pub.Stop)
	// Seven publications of the file: the API reports generation 7.
	for range 7 {
		if err := pub.PublishConfig(l); err != nil {
			t.Fatal(err)
		}
	}
	a := &API{
		Store:   store,
		Pub:     pub,
		Ready:   ready,
		Metrics: promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{}),
		Log:     slog.New(slog.DiscardHandler),
	}
	srv := httptest.NewServer(a.Routes())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestExplainBadParameters(t *testing.T) {
	srv := testAPI(t, func() (bool, string) { return true, "" })
	for query, want := range map[string]string{
		"client=192.0.2.1":                                 "name: required",
		"name=app.gslb.example.":                           "client: required",
		"name=app.gslb.example.&client=192.0.2":            `client: "192.0.2" is not an IP address`,
		"name=app.gslb.example.&client=192.0.2.0/33":       `client: "192.0.2.0/33" is not an IP address or prefix`,
		"name=app.gslb.example.&client=0.0.0.0/0":          "client: a /0 prefix says nothing about the client",
		"name=app.gslb.example.&client=fe80::1%25eth0":     `client: "fe80::1%eth0" is not an IP address`,
		"name=app.gslb.example.&client=192.0.2.1&type=MX":  `type: want A, AAAA or a type number, got "MX"`,
		"name=app.gslb.example.&client=192.0.2.1&type=0":   `type: want A, AAAA or a type number, got "0"`,
		"name=app.gslb.example.&client=192.0.2.1&type=1e9": `type: want A, AAAA or a type number`,
	} {
		code, body := get(t, srv.URL+"/api/v1/explain?"+query)
		var e Error
		if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || !strings.HasPrefix(e.Error, want) {
			t.Errorf("%s: %d %s, want 400 %q", query, code, body, want)
		}
	}
}

func explainGet(t *testing.T, srv *httptest.Server, query string) ExplainResponse {
	t.Helper()
	code, body := get(t, srv.URL+"/api/v1/explain?"+query)
	var r ExplainResponse
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
		t.Fatalf("%s: %d %s", query, code, body)
	}
	return r
}

func TestExplainClientAndECS(t *testing.T) {
	srv := testAPI(t, func() (bool, string) { return true, "" })
	for _, tc := range []struct {
		query, client string
		source        int
		answer        string
		scope         uint8
	}{
		// With a prefix the client is the masked network, as in ECS.
		{"name=APP.gslb.example&client=10.1.2.3/24", "10.1.2.0/24", 24, "[198.51.100.10]", 8},
		{"name=app.gslb.example.&client=127.0.0.1", "127.0.0.1/32", 32, "[192.0.2.10]", 8},
		{"name=app.gslb.example.&client=::ffff:10.9.9.9", "10.9.9.9/32", 32, "[198.51.100.10]", 8},
		{"name=app.gslb.example.&client=::ffff:10.9.9.0/120", "10.9.9.0/24", 24, "[198.51.100.10]", 8},
		{"name=app.gslb.example.&client=10.0.0.1&type=aaaa", "10.0.0.1/32", 32, "[2001:db8:2::10]", 8},
		{"name=app.gslb.example.&client=10.0.0.1&type=28", "10.0.0.1/32", 32, "[2001:db8:2::10]", 8},
	} {
		r := explainGet(t, srv, tc.query)
		if r.Query.Client != tc.client || r.Query.SourcePrefix != tc.source || fmt.Sprint(r.Answer.Addresses) != tc.answer ||
			r.Answer.ScopePrefix != tc.scope || r.Query.Name != "app.gslb.example." || r.Generation != 7 {
			t.Errorf("%s: query %+v answer %+v", tc.query, r.Query, r.Answer)
		}
	}
	r := explainGet(t, srv, "name=topo.gslb.example.&client=10.1.1.1")
	if r.Answer.Rule != "topology" || r.Answer.Site != "eu-west" || len(r.Trace.Members) != 3 {
		t.Errorf("topology: %+v %+v", r.Answer, r.Trace)
	}
}

func TestExplainNotAServiceName(t *testing.T) {
	srv := testAPI(t, func() (bool, string) { return true, "" })
	r := explainGet(t, srv, "name=mail.gslb.example.&client=192.0.2.1")
	if r.Answer.Result != "nxdomain" || !strings.Contains(r.Note, "static records") {
		t.Errorf("static name: %+v note %q", r.Answer, r.Note)
	}
	r = explainGet(t, srv, "name=www.elsewhere.example.&client=192.0.2.1")
	if r.Answer.Result != "refused" || r.Note != "" || r.Answer.Addresses == nil {
		t.Errorf("out of zone: %+v", r.Answer)
	}
}

func TestReadyzAndHealthz(t *testing.T) {
	ready, why := false, "dns server not ready"
	srv := testAPI(t, func() (bool, string) { return ready, why })
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || body != "not ready: dns server not ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz while not ready: %d %q", code, body)
	}
	ready = true
	if code, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
}

func TestConfigAndServicesEndpoints(t *testing.T) {
	srv := testAPI(t, func() (bool, string) { return true, "" })
	code, body := get(t, srv.URL+"/api/v1/config")
	var c configResponse
	if code != 200 || json.Unmarshal([]byte(body), &c) != nil || c.Generation != 7 || c.File == "" ||
		len(c.Config.Zones) != 2 || len(c.Config.Sites) != 3 || c.Counts != (configCounts{Zones: 2, Sites: 3, Services: 4}) {
		t.Errorf("/api/v1/config: %d %s", code, body)
	}
	// The services are counted, never listed: /api/v1/services pages them.
	if strings.Contains(body, `"services": [`) || strings.Contains(body, "www.gslb.example.") {
		t.Errorf("/api/v1/config lists services: %s", body)
	}
	if !strings.Contains(body, `"tcp_idle_timeout": "15s"`) {
		t.Errorf("durations should read as in the file: %s", body)
	}
	code, body = get(t, srv.URL+"/api/v1/services")
	var s servicesResponse
	if code != 200 || json.Unmarshal([]byte(body), &s) != nil || len(s.Services) != 4 || s.Total != 4 || s.Next != "" {
		t.Fatalf("/api/v1/services: %d %s", code, body)
	}
	www := s.Services[3] // by name: app, db, topo, www
	if www.Name != "www.gslb.example." || www.Zone != "gslb.example." || www.Strategy != "weighted" || !www.Persistence ||
		len(www.Members) != 3 || www.Members[1].Weight != 0 || www.Members[2].Weight != 1 {
		t.Errorf("www: %+v", www)
	}
	res, err := http.Post(srv.URL+"/api/v1/explain", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST explain: %d", res.StatusCode)
	}
}

func TestRecordOwner(t *testing.T) {
	for rec, want := range map[string]string{
		`@ 300 IN TXT "x"`:             "z.example.",
		`mail 300 IN A 192.0.2.1`:      "mail.z.example.",
		`MX.z.example. 300 IN A 1.2.3`: "mx.z.example.",
		` 300 IN A 192.0.2.1`:          "",
		`; comment`:                    "",
		``:                             "",
	} {
		if got := recordOwner(rec, "z.example."); got != want {
			t.Errorf("recordOwner(%q) = %q, want %q", rec, got, want)
		}
	}
}
