package e2e

// Helpers of the load-shedding tests (load_test.go): `meridian
// demo-backends` on loopback IPs as the sites' backends (their load set
// with POST /load), a config with three sites and one load-shedding
// service, ECS queries mapped back to the answering site, bounded polling
// of the answers and of /api/v1/load, and a real Prometheus scraping the
// backends.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// The load tests' service, sites and answers. The backends live on
// 127.47.x.1 (no other e2e test uses 127.47.), one range per test.
const loadName = "shop.load.test"

var loadSites = []string{"us-east", "eu-west", "ap-south"}

// loadAddr is the address each site's member answers.
var loadAddr = map[string]string{"us-east": "192.0.2.60", "eu-west": "198.51.100.60", "ap-south": "203.0.113.60"}

// loadSiteOf maps an answered address back to its site.
var loadSiteOf = map[string]string{"192.0.2.60": "us-east", "198.51.100.60": "eu-west", "203.0.113.60": "ap-south"}

// loadEnv is one load test's running parts.
type loadEnv struct {
	m        *meridian
	backends map[string]string // site -> backend host:port
}

// loadSpec is what differs between the tests' configs.
type loadSpec struct {
	policyExtra string // more keys of the policy, e.g. "persistence: {...}"
	load        string // the policy's load map
	check       string // the health check's keys beyond kind, port, path
	extra       string // more top-level YAML (health.prometheus)
}

// startLoadBackends starts one demo backend per site on ips (in
// loadSites' order), named by site, on one port.
func startLoadBackends(t *testing.T, ips []string) (int, map[string]string) {
	t.Helper()
	port, _ := proctest.StartDemoBackends(t, meridianBin, proctest.MeridianEnv(), ips, loadSites)
	backends := map[string]string{}
	for i, s := range loadSites {
		backends[s] = hostPort(ips[i], port)
	}
	return port, backends
}

// loadConfig writes the config of a load test: zone load.test., the
// demo's three sites, 10.0.0.0/8 placed at Dublin (nearest eu-west, next
// us-east, then ap-south), and the service shop.load.test. with a geo
// strategy, each member probed at its site's backend.
func loadConfig(t *testing.T, dir string, port int, backends map[string]string, s loadSpec) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `log: {level: info}
zones:
  - name: load.test.
    soa: {mname: ns1.load.test., rname: hostmaster.load.test., serial: 1, minimum: 60}
    nameservers: [{name: ns1.load.test., addresses: [127.0.0.1]}]
geo:
  rules:
    - {cidr: 10.0.0.0/8, location: {lat: 53.35, lon: -6.26, country: IE, continent: EU}}   # Dublin
sites:
  - {name: us-east, location: {lat: 39.04, lon: -77.49, country: US, continent: NA}}
  - {name: eu-west, location: {lat: 53.35, lon: -6.26, country: IE, continent: EU}}
  - {name: ap-south, location: {lat: 19.08, lon: 72.88, country: IN, continent: AS}}
services:
  - name: %s.
    policy:
      strategy: geo
      ttl: 30
`, loadName)
	if s.policyExtra != "" {
		fmt.Fprintf(&b, "      %s\n", s.policyExtra)
	}
	fmt.Fprintf(&b, "      load: %s\n", s.load)
	fmt.Fprintf(&b, "    health_check: {kind: http, port: %d, path: /healthz, %s}\n", port, s.check)
	b.WriteString("    members:\n")
	for _, site := range loadSites {
		host, _, _ := strings.Cut(backends[site], ":")
		fmt.Fprintf(&b, "      - {site: %s, addresses: [%s], probe_address: %s}\n", site, loadAddr[site], host)
	}
	b.WriteString(s.extra)
	return writeFile(t, dir, "meridian.yaml", b.String())
}

// setLoad makes site's backend report load v from now on.
func (e *loadEnv) setLoad(t *testing.T, site string, v float64) time.Time {
	t.Helper()
	u := fmt.Sprintf("http://%s/load?value=%s", e.backends[site], strconv.FormatFloat(v, 'g', -1, 64))
	code, body := proctest.HTTP(t, "POST", u)
	if code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", u, code, body)
	}
	t.Logf("%s's backend now reports load %g", site, v)
	return time.Now()
}

// netN is the /24 network 10.a.b.0/24.
func netN(a, b int) string { return fmt.Sprintf("10.%d.%d.0/24", a, b) }

// loadAnswer is one ECS query of the service, reduced to its site.
type loadAnswer struct {
	site  string // "" when the answer is not one known address
	scope uint8  // the ECS scope answered
	desc  string // the whole response, for messages
}

// ask queries the service's A record with ECS network.
func (e *loadEnv) ask(t *testing.T, network string) loadAnswer {
	t.Helper()
	r := exchange(t, e.m.DNS[0], dnsQuery{name: loadName, qtype: dns.TypeA, ecs: network})
	a := loadAnswer{desc: describe(r)}
	if got := addrs(r); r.Rcode == dns.RcodeSuccess && len(got) == 1 {
		a.site = loadSiteOf[got[0]]
	}
	if ecs := ecsOf(r); ecs != nil {
		a.scope = ecs.SourceScope
	}
	return a
}

// askAll queries every network once and returns the answers, by network.
func (e *loadEnv) askAll(t *testing.T, nets []string) map[string]loadAnswer {
	t.Helper()
	out := make(map[string]loadAnswer, len(nets))
	for _, n := range nets {
		out[n] = e.ask(t, n)
	}
	return out
}

// expectAll checks that every network is answered with site, and reports
// those that are not (at most 5, and how many).
func (e *loadEnv) expectAll(t *testing.T, what string, nets []string, site string) {
	t.Helper()
	var bad []string
	for n, a := range e.askAll(t, nets) {
		if a.site != site {
			bad = append(bad, fmt.Sprintf("%s -> %s (%s)", n, orNone(a.site), a.desc))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d of %d networks are not answered %s, e.g.:\n  %s\n/api/v1/load: %s",
			what, len(bad), len(nets), site, strings.Join(bad[:min(5, len(bad))], "\n  "), e.loadBody(t))
	} else {
		t.Logf("%s: all %d networks answered %s", what, len(nets), site)
	}
}

func orNone(s string) string {
	if s == "" {
		return "<not one known address>"
	}
	return s
}

// nets returns the networks 10.a.b.0/24 for b in [0, n).
func nets(a, n int) []string {
	out := make([]string, n)
	for b := range n {
		out[b] = netN(a, b)
	}
	return out
}

// waitSite polls the networks next(0), next(1), ... (a fresh network on
// each try, or the same one) until one is answered with site, and returns
// that network and how long after since it moved. On a hang it fails with
// the last answer, /api/v1/load and explain.
func (e *loadEnv) waitSite(t *testing.T, what, site string, since time.Time, next func(i int) string) (string, time.Duration) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for i := 0; ; i++ {
		n := next(i)
		a := e.ask(t, n)
		if a.site == site {
			d := time.Since(since)
			t.Logf("%s: %s answered %s, moved within %v (%d queries)", what, n, site, d.Round(time.Millisecond), i+1)
			return n, d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still answers %s (%s) after %v, want %s\n/api/v1/load: %s\nexplain: %s",
				what, n, orNone(a.site), a.desc, hangGuard, site, e.loadBody(t), e.explainBody(t, n))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- /api/v1/load and explain ----

// loadMember is one member of /api/v1/load.
type loadMember struct {
	Site   string `json:"site"`
	Member string `json:"member"`
	Load   struct {
		Value  *float64 `json:"value"`
		Source string   `json:"source"`
		AgeS   *float64 `json:"age_s"`
		State  string   `json:"state"`
		Shed   float64  `json:"shed"`
		Over   bool     `json:"over"`
		Hard   bool     `json:"hard_limit_reached"`
		Stale  bool     `json:"stale"`
	} `json:"load"`
}

func (lm loadMember) String() string {
	v := "none"
	if lm.Load.Value != nil {
		v = strconv.FormatFloat(*lm.Load.Value, 'g', -1, 64)
	}
	return fmt.Sprintf("%s: value %s source %q state %q shed %.3f over %v hard %v stale %v",
		lm.Member, v, lm.Load.Source, lm.Load.State, lm.Load.Shed, lm.Load.Over, lm.Load.Hard, lm.Load.Stale)
}

// loadStatus is the part of /api/v1/load the tests read.
type loadStatus struct {
	Services []struct {
		Name    string       `json:"name"`
		Members []loadMember `json:"members"`
	} `json:"services"`
}

func (e *loadEnv) loadBody(t *testing.T) string {
	t.Helper()
	_, body := proctest.HTTP(t, "GET", e.m.HTTP+"/api/v1/load")
	return body
}

// members returns the service's members in /api/v1/load, by site.
func (e *loadEnv) members(t *testing.T) map[string]loadMember {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", e.m.HTTP+"/api/v1/load")
	var ls loadStatus
	if code != http.StatusOK || json.Unmarshal([]byte(body), &ls) != nil {
		t.Fatalf("/api/v1/load: %d %s", code, body)
	}
	out := map[string]loadMember{}
	for _, s := range ls.Services {
		if s.Name == loadName+"." {
			for _, m := range s.Members {
				out[m.Site] = m
			}
		}
	}
	if len(out) != len(loadSites) {
		t.Fatalf("/api/v1/load: want the %d members of %s., got:\n%s", len(loadSites), loadName, body)
	}
	return out
}

// hasValue reports whether the member's reading is v, from source.
func (lm loadMember) hasValue(v float64, source string) bool {
	return lm.Load.Value != nil && *lm.Load.Value == v && lm.Load.Source == source && !lm.Load.Stale
}

// decides reports whether the member's reading is v, from source, and
// the decision uses it already: /api/v1/load reads the value live, while
// its state is the snapshot's, which takes the readings twice a second.
func (lm loadMember) decides(v float64, source string) bool {
	return lm.hasValue(v, source) && strings.HasPrefix(lm.Load.State, "load "+strconv.FormatFloat(v, 'g', -1, 64)+":")
}

// waitLoad polls /api/v1/load until cond accepts the members, and
// returns them.
func (e *loadEnv) waitLoad(t *testing.T, what string, cond func(map[string]loadMember) bool) map[string]loadMember {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		ms := e.members(t)
		if cond(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen in /api/v1/load after %v:\n%s\n/api/v1/health: %s",
				what, hangGuard, e.loadBody(t), healthBody(t, e.m))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func healthBody(t *testing.T, m *meridian) string {
	t.Helper()
	_, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/health")
	return body
}

// loadExplain is the part of /api/v1/explain the tests read.
type loadExplain struct {
	Answer struct {
		Site        string `json:"site"`
		ScopePrefix uint8  `json:"scope_prefix"`
	} `json:"answer"`
	Trace struct {
		Steps   []string `json:"steps"`
		Members []struct {
			Site    string `json:"site"`
			Verdict string `json:"verdict"`
			Load    *struct {
				Value  *float64 `json:"value"`
				Source string   `json:"source"`
				State  string   `json:"state"`
			} `json:"load"`
		} `json:"members"`
	} `json:"trace"`
}

func (e *loadEnv) explainURL(client string) string {
	return e.m.HTTP + "/api/v1/explain?" + url.Values{"name": {loadName}, "type": {"A"}, "client": {client}}.Encode()
}

func (e *loadEnv) explainBody(t *testing.T, client string) string {
	t.Helper()
	_, body := proctest.HTTP(t, "GET", e.explainURL(client))
	return body
}

func (e *loadEnv) explain(t *testing.T, client string) (loadExplain, string) {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", e.explainURL(client))
	var ex loadExplain
	if code != http.StatusOK || json.Unmarshal([]byte(body), &ex) != nil {
		t.Fatalf("explain %s: %d %s", client, code, body)
	}
	return ex, body
}

// ---- Prometheus ----

// prometheus is a running Prometheus server.
type prometheus struct {
	*proctest.Proc
	url string // http://127.0.0.1:port
}

// startPrometheus runs /usr/bin/prometheus scraping targets' /metrics
// every second, on a free port of 127.0.0.1 (chosen again if another
// process took it before Prometheus bound it), and waits until it is
// ready. Its cleanup (proctest.Start) stops it and waits for it.
func startPrometheus(t *testing.T, targets []string) *prometheus {
	t.Helper()
	bin := proctest.RequireTool(t, "prometheus", "prometheus")
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	var p *prometheus
	startOnFreePort(t, "prometheus", "127.0.0.1", func(port int) (*proctest.Proc, error) {
		dir := t.TempDir()
		cfg := writeFile(t, dir, "prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: demo-backends
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", ")))
		addr := hostPort("127.0.0.1", port)
		cmd := exec.Command(bin,
			"--config.file="+cfg,
			"--web.listen-address="+addr,
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--storage.tsdb.retention.time=1h",
			"--log.level=warn",
		)
		p = &prometheus{Proc: proctest.Start(t, "prometheus", cmd), url: "http://" + addr}
		return p.Proc, p.waitReady(60 * time.Second)
	})
	return p
}

// waitReady waits until /-/ready answers 200.
func (p *prometheus) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	last := ""
	for {
		if p.Exited() {
			return fmt.Errorf("prometheus exited at start (%v):\n%s", p.Err(), p.Out.String())
		}
		resp, err := hc.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus on %s not ready after %v (last: %s):\n%s", p.url, timeout, last, p.Out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// promSample is one sample of an instant query's vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [time, "value"]
}

// query runs an instant query and returns its vector.
func (p *prometheus) query(t *testing.T, q string) ([]promSample, string) {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", p.url+"/api/v1/query?"+url.Values{"query": {q}}.Encode())
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil || r.Status != "success" || r.Data.ResultType != "vector" {
		t.Fatalf("prometheus query %q: %d %s", q, code, body)
	}
	return r.Data.Result, body
}

// waitSeries polls q until Prometheus returns one series per site, named
// by its backend label.
func (p *prometheus) waitSeries(t *testing.T, q string) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		res, body := p.query(t, q)
		seen := map[string]bool{}
		for _, s := range res {
			seen[s.Metric["backend"]] = true
		}
		all := len(res) == len(loadSites)
		for _, s := range loadSites {
			all = all && seen[s]
		}
		if all {
			t.Logf("prometheus: %s returns the %d backends' series", q, len(res))
			return
		}
		if time.Now().After(deadline) {
			_, targets := proctest.HTTP(t, "GET", p.url+"/api/v1/targets")
			t.Fatalf("prometheus: %s does not return one series per site after %v: %s\ntargets: %s", q, hangGuard, body, targets)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
