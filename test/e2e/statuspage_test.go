package e2e

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestStatusPage opens the status page (GET /) of the real demo in headless
// Chromium and checks what an operator sees: the three sites on the map at
// their coordinates, eu-west turning red when its backend fails (as the
// failover walk-through makes it fail), the answer share moving with the
// DNS answers, the explain trace drawn on the map, the services table and
// its filter, the admin overrides behind the token, a phone's viewport;
// and throughout, no console error and no request to any other host.
// Screenshots are kept (artefactsDir); page weight and first render are
// logged (docs/performance.md, "Status page").
func TestStatusPage(t *testing.T) {
	t.Parallel()
	watchdog(t, 4*time.Minute)
	b := startBrowser(t) // first: without chromium the test ends before the demo starts
	d := startDemo(t)
	origin := d.HTTP

	// ---- the page loads, draws the map and the three sites ----
	navStart := time.Now()
	b.run(30*time.Second, "open the status page", chromedp.Navigate(origin+"/"))
	b.waitFor(20*time.Second, "the map and three site markers",
		`document.querySelectorAll('#markers .site').length === 3 && document.getElementById('land').getAttribute('d').length > 10000`,
		`{markers: document.querySelectorAll('#markers .site').length, land: document.getElementById('land').getAttribute('d').length, live: document.getElementById('live').textContent}`)
	wall := time.Since(navStart)
	firstRender := eval[float64](b, `(performance.getEntriesByName('meridian:first-render')[0] || {startTime: -1}).startTime`)
	fcp := eval[float64](b, `(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: -1}).startTime`)

	type marker struct {
		Site   string  `json:"site"`
		Label  string  `json:"label"`
		Health string  `json:"health"`
		Cx     float64 `json:"cx"`
		Cy     float64 `json:"cy"`
	}
	markers := eval[[]marker](b, `[...document.querySelectorAll('#markers .site')].map(g => ({
		site: g.dataset.site, label: g.querySelector('text').textContent, health: g.dataset.health,
		cx: Number(g.querySelector('circle').getAttribute('cx')), cy: Number(g.querySelector('circle').getAttribute('cy'))}))`)
	// testdata/demo/meridian.yaml's locations, in the map's projection
	want := map[string][2]float64{"us-east": {39.04, -77.49}, "eu-west": {53.35, -6.26}, "ap-south": {19.08, 72.88}}
	for _, m := range markers {
		ll, ok := want[m.Site]
		if !ok {
			t.Errorf("a marker for %q, which is not a demo site: %+v", m.Site, m)
			continue
		}
		delete(want, m.Site)
		if !strings.HasPrefix(m.Label, m.Site+" ") {
			t.Errorf("marker %s: label %q does not name the site", m.Site, m.Label)
		}
		if x, y := (ll[1]+180)*10, (90-ll[0])*10; math.Abs(m.Cx-x) > 0.5 || math.Abs(m.Cy-y) > 0.5 {
			t.Errorf("marker %s at (%.1f, %.1f), want (%.1f, %.1f): lat %v lon %v", m.Site, m.Cx, m.Cy, x, y, ll[0], ll[1])
		}
	}
	if len(want) > 0 {
		t.Fatalf("no marker for %v; markers: %+v", want, markers)
	}
	b.waitFor(hangGuard, "every site up (green)", `[...document.querySelectorAll('#markers .site')].every(g => g.dataset.health === 'up')`, markersJS)
	// the load-shedding service shows each member's load (its probes read
	// the demo backends' X-Load: 0.1)
	b.waitFor(hangGuard, "shop's members with their load",
		`(() => { const l = [...document.querySelectorAll('tbody[data-service="shop.gslb.example."] tr[data-member] .load')];
			return l.length === 3 && l.every(e => e.textContent.includes('load 0.1')); })()`,
		`(document.querySelector('tbody[data-service="shop.gslb.example."]') || {innerText: 'no shop service'}).innerText`)
	// standalone: no gossip, no kubernetes (null in the overview)
	if shown := eval[[]bool](b, `['#gossip-panel', '#kube-panel'].map(s => !document.querySelector(s).hidden)`); shown[0] || shown[1] {
		t.Errorf("gossip or kubernetes panel shown (%v) for a standalone server", shown)
	}
	// the keyboard reaches a marker, and Enter opens its detail with each
	// source's view
	b.run(20*time.Second, "focus the eu-west marker and press Enter", chromedp.Focus(chromedp.CSS(`#markers [data-site="eu-west"]`)), chromedp.KeyEvent("\r"))
	b.waitFor(10*time.Second, "eu-west's detail", `(() => { const d = document.getElementById('site-detail'); return !d.hidden && d.querySelector('h3')?.textContent.startsWith('eu-west') && d.querySelector('tbody tr td')?.textContent === 'local'; })()`,
		`document.getElementById('site-detail').innerText`)

	// ---- the answer share follows the DNS answers ----
	// European clients (ECS) get eu-west; a few American ones us-east.
	query(t, d, "81.2.69.0/24", 40, appEU)
	query(t, d, "8.8.8.0/24", 10, appUS)
	b.waitFor(hangGuard, "eu-west's answer share about 0.8 (40 of 50 answers)", shareJS("eu-west", "> 0.7"), markersJS)
	before := shares(b)
	t.Logf("answer shares with every site up: %v", before)
	b.screenshot("1-all-up")

	// ---- explain: the trace, and the client and its site on the map ----
	b.run(20*time.Second, "fill in and send the explain form",
		chromedp.SetValue(chromedp.CSS("#ex-name"), "app.gslb.example"),
		chromedp.SetValue(chromedp.CSS("#ex-client"), "81.2.69.0/24"),
		chromedp.Click(chromedp.CSS(`#explain-form button[type="submit"]`)))
	b.waitFor(hangGuard, "the explain trace for 81.2.69.0/24",
		`(() => { const o = document.getElementById('explain-out');
			return o.querySelector('h3') && o.querySelector('h3').textContent.includes('81.2.69.0/24') &&
				o.querySelectorAll('ol.steps li').length >= 2 && o.querySelectorAll('table.ex-members tbody tr').length >= 3 &&
				o.textContent.includes('`+appEU+`') &&
				document.querySelector('#explain-layer line[data-to="eu-west"]') && document.querySelector('#explain-layer .ex-client'); })()`,
		`document.getElementById('explain-out').textContent.slice(0, 600) + ' | map: ' + document.getElementById('explain-layer').innerHTML.slice(0, 300)`)
	explained := eval[string](b, `document.getElementById('explain-out').innerText`)
	for _, s := range []string{"eu-west", "ECS scope", "Steps", "Compiled", "eu-west/198.51.100.10"} {
		if !strings.Contains(explained, s) {
			t.Errorf("the explain panel does not show %q:\n%s", s, explained)
		}
	}
	b.screenshot("2-explain-81.2.69.0")

	// ---- eu-west fails (the walk-through's curl -X POST .../fail) ----
	failAt := time.Now()
	if code, body := proctest.HTTP(t, "POST", fmt.Sprintf("http://%s/fail", hostPort("127.10.2.1", d.backendPort))); code != http.StatusOK {
		t.Fatalf("POST eu-west's backend /fail: %d %s", code, body)
	}
	b.waitFor(hangGuard, "eu-west's marker red (down)",
		`(() => { const g = document.querySelector('#markers [data-site="eu-west"]');
			return g.dataset.health === 'down' && getComputedStyle(g.querySelector('circle')).fill === 'rgb(212, 42, 42)'; })()`,
		markersJS)
	t.Logf("eu-west's marker turned red %v after its backend failed (checks every 1 s, fall 2)", time.Since(failAt).Round(10*time.Millisecond))
	for _, site := range []string{"us-east", "ap-south"} {
		if h := eval[string](b, `document.querySelector('#markers [data-site="`+site+`"]').dataset.health`); h != "up" {
			t.Errorf("%s's marker is %s, want up: only eu-west failed", site, h)
		}
	}
	// The same European clients now get another site: eu-west's share
	// falls, another site's rises.
	got := query(t, d, "81.2.69.0/24", 40, "")
	if strings.Contains(strings.Join(got, " "), appEU) {
		t.Fatalf("eu-west is down, but European clients still get %s: %v", appEU, got)
	}
	b.waitFor(hangGuard, "eu-west's answer share falls below 0.6 (40 of 90 answers)", shareJS("eu-west", fmt.Sprintf("< %g", before["eu-west"]-0.2)), markersJS)
	after := shares(b)
	t.Logf("answer shares after eu-west failed and 40 more European queries: %v", after)
	if after["us-east"]+after["ap-south"] <= before["us-east"]+before["ap-south"]+0.2 {
		t.Errorf("the other sites' answer share did not rise: before %v, after %v", before, after)
	}
	// The services table shows the member down, from the local probe.
	b.waitFor(hangGuard, "app's eu-west member down in the services table",
		`(() => { const r = document.querySelector('#services-table tbody[data-service="app.gslb.example."] tr[data-member="eu-west/198.51.100.10"]');
			return r && r.cells[2].textContent.startsWith('down') && r.cells[3].textContent.includes('local down'); })()`,
		`(document.querySelector('#services-table tbody[data-service="app.gslb.example."]') || {}).innerText`)
	b.screenshot("3-eu-west-down")

	// ---- the services filter ----
	b.run(20*time.Second, "filter the services by name", chromedp.SetValue(chromedp.CSS("#prefix"), "db"), chromedp.Click(chromedp.CSS(`#filter-form button[type="submit"]`)))
	b.waitFor(hangGuard, "only db.gslb.example. listed",
		`(() => { const s = [...document.querySelectorAll('#services-table tbody.svc')].map(b => b.dataset.service); return s.length === 1 && s[0] === 'db.gslb.example.'; })()`,
		`[...document.querySelectorAll('#services-table tbody.svc')].map(b => b.dataset.service)`)

	// ---- admin actions: none without the token, drain and clear with it ----
	if n := eval[int](b, `document.querySelectorAll('#sites-table button[data-key^="site:ap-south:"]').length`); n != 0 {
		t.Errorf("%d admin buttons without a token, want none", n)
	}
	token, err := os.ReadFile(d.token)
	if err != nil {
		t.Fatal(err)
	}
	b.run(20*time.Second, "enter the admin token", chromedp.SetValue(chromedp.CSS("#token"), strings.TrimSpace(string(token))), chromedp.Click(chromedp.CSS("#token-use")))
	b.waitFor(hangGuard, "the admin buttons", `document.querySelector('#sites-table button[data-key="site:ap-south:drain"]') && document.getElementById('token-state').textContent === 'admin actions enabled'`,
		`document.getElementById('token-state').textContent`)
	b.run(20*time.Second, "drain ap-south", chromedp.Click(chromedp.CSS(`#sites-table button[data-key="site:ap-south:drain"]`)))
	b.waitFor(hangGuard, "ap-south drained", `document.querySelector('#sites-table tr[data-site="ap-south"]').cells[5].textContent === 'drain'`, `document.querySelector('#sites-table tr[data-site="ap-south"]').innerText`)
	if admin := siteAdmin(t, origin, "ap-south"); admin != "drain" {
		t.Errorf("after the page's drain, the overview's ap-south has override %q, want drain", admin)
	}
	b.run(20*time.Second, "clear ap-south's override", chromedp.Click(chromedp.CSS(`#sites-table button[data-key="site:ap-south:"]`)))
	b.waitFor(hangGuard, "ap-south's override cleared", `document.querySelector('#sites-table tr[data-site="ap-south"]').cells[5].textContent === ''`, `document.querySelector('#sites-table tr[data-site="ap-south"]').innerText`)

	// ---- a phone: the page fits its width ----
	b.phone(true)
	b.waitFor(10*time.Second, "no horizontal scrolling on a phone", `window.innerWidth < 500 && document.documentElement.scrollWidth <= window.innerWidth`,
		`{inner: window.innerWidth, scroll: document.documentElement.scrollWidth}`)
	b.screenshot("4-phone")
	b.phone(false)

	// ---- throughout: no console error, no other host, live updates ----
	if p := b.problems(); len(p) > 0 {
		t.Errorf("the page logged %d console errors or exceptions:\n%s", len(p), strings.Join(p, "\n"))
	}
	if other := b.requestsNotTo(origin); len(other) > 0 {
		t.Errorf("the page made requests to other hosts than %s: %v", origin, other)
	}
	if live := eval[string](b, `document.getElementById('live').textContent`); live != "live" {
		t.Errorf("the page is %q, want live (the overview's event stream)", live)
	}
	bytes, n, urls := b.weight()
	if n < 4 {
		t.Errorf("only %d requests recorded (%v): is the network recording working?", n, urls)
	}

	// ---- measured, not asserted ----
	raw, gz := staticWeight(t, origin)
	t.Logf("status page weight: %d bytes of static files (%d gzipped, as served); the browser fetched %.0f bytes in %d finished requests (with the API's JSON)", raw, gz, bytes, n)
	t.Logf("status page first render on loopback: %.0f ms from navigation to the first overview drawn (first contentful paint %.0f ms; %v wall clock with the test's polling)", firstRender, fcp, wall.Round(time.Millisecond))
}

// markersJS describes the markers, for failure messages.
const markersJS = `[...document.querySelectorAll('#markers .site')].map(g => g.dataset.site + ' ' + g.dataset.health + ' share ' + g.dataset.share)`

// shareJS is a predicate on a site's answer share on the map.
func shareJS(site, cond string) string {
	return `Number((document.querySelector('#markers [data-site="` + site + `"]') || {dataset: {}}).dataset.share) ` + cond
}

// shares are the answer shares the map shows, by site.
func shares(b *browser) map[string]float64 {
	b.t.Helper()
	return eval[map[string]float64](b, `Object.fromEntries([...document.querySelectorAll('#markers .site')].map(g => [g.dataset.site, Number(g.dataset.share)]))`)
}

// query asks app.gslb.example A n times from ecs (one address each) and
// returns the addresses; want, when set, is the answer each must give.
func query(t *testing.T, d *demo, ecs string, n int, want string) []string {
	t.Helper()
	var out []string
	for range n {
		r := exchange(t, d.DNS[0], dnsQuery{name: "app.gslb.example", qtype: dns.TypeA, ecs: ecs})
		a := addrs(r)
		if len(a) != 1 || (want != "" && a[0] != want) {
			t.Fatalf("app A from %s: want %s, got %s", ecs, map[bool]string{true: "one address", false: want}[want == ""], describe(r))
		}
		out = append(out, a[0])
	}
	return out
}

// siteAdmin is a site's override as GET /api/v1/overview says.
func siteAdmin(t *testing.T, origin, site string) string {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", origin+"/api/v1/overview?limit=1")
	var o struct {
		Sites []struct {
			Name  string `json:"name"`
			Admin string `json:"admin"`
		} `json:"sites"`
	}
	if err := json.Unmarshal([]byte(body), &o); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/overview: %d %v\n%.2000s", code, err, body)
	}
	for _, s := range o.Sites {
		if s.Name == site {
			return s.Admin
		}
	}
	t.Fatalf("GET /api/v1/overview: no site %s in %s", site, body)
	return ""
}

// staticWeight fetches the page and every asset it names, and returns
// their sizes as files and as served gzipped.
func staticWeight(t *testing.T, origin string) (raw, gz int) {
	t.Helper()
	get := func(path string, gzipped bool) []byte {
		req, err := http.NewRequest("GET", origin+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if gzipped {
			req.Header.Set("Accept-Encoding", "gzip") // set by hand: the transport leaves the body compressed
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
		}
		if gzipped && res.Header.Get("Content-Encoding") == "gzip" {
			if _, err := gzip.NewReader(strings.NewReader(string(body))); err != nil {
				t.Fatalf("GET %s: bad gzip: %v", path, err)
			}
		}
		return body
	}
	page := get("/", false)
	raw, gz = len(page), len(get("/", true))
	for _, m := range regexp.MustCompile(`"(/ui/[^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		raw += len(get(m[1], false))
		gz += len(get(m[1], true))
	}
	return raw, gz
}

// TestStatusPageGossip opens the status page of a gossip leader and of a
// follower (two processes, sites a and b, on their own loopback
// addresses): the gossip panel lists both members with their roles, the
// Kubernetes panel stays hidden, and a site's detail shows the view of
// each reporting site (the follower's own probes and the leader's,
// "site/a").
func TestStatusPageGossip(t *testing.T) {
	t.Parallel()
	watchdog(t, 3*time.Minute)
	b := startBrowser(t)
	dir := t.TempDir()
	ips := []string{"127.41.1.1", "127.41.2.1"}
	port, lns := listenSamePort(t, ips...)
	var backends []*backend
	for _, ln := range lns {
		backends = append(backends, startBackendOn(t, ln, nil))
	}
	key := genKey(t, dir, "gossip.key")
	nodeIPs := []string{"127.41.0.1", "127.41.0.2"}
	gossipAddr := []string{hostPort(nodeIPs[0], freePortOn(t, nodeIPs[0])), hostPort(nodeIPs[1], freePortOn(t, nodeIPs[1]))}
	gossip := func(role, site string, i int) string {
		return fmt.Sprintf(`health: {rule: majority, source_ttl: 2s}
gossip: {role: %s, site: %s, node_name: node-%s, listen: %s, key_file: %s, state_file: %s, timing: local, push_pull_interval: 1s, join: [%s]}
`, role, site, site, gossipAddr[i], key, filepath.Join(dir, "state-"+site+".json"), gossipAddr[1-i])
	}
	leaderDir, followerDir := filepath.Join(dir, "leader"), filepath.Join(dir, "follower")
	must(t, os.MkdirAll(leaderDir, 0o755))
	must(t, os.MkdirAll(followerDir, 0o755))
	leaderCfg := healthConfig(t, leaderDir, []hsvc{{
		name: "app", policy: "{strategy: roundrobin, ttl: 30}", check: httpCheck("http", port, "path: /healthz"),
		members: []string{"{site: a, addresses: [" + ips[0] + "]}", "{site: b, addresses: [" + ips[1] + "]}"},
	}}, gossip("leader", "a", 0))
	followerCfg := writeFile(t, followerDir, "meridian.yaml", "log: {level: debug}\n"+gossip("follower", "b", 1))
	leader := startMeridian(t, leaderCfg, []string{hostPort(nodeIPs[0], 0)}, hostPort(nodeIPs[0], 0))
	follower := startMeridian(t, followerCfg, []string{hostPort(nodeIPs[1], 0)}, hostPort(nodeIPs[1], 0))

	b.run(30*time.Second, "open the leader's status page", chromedp.Navigate(leader.HTTP+"/"))
	b.waitFor(hangGuard, "the gossip panel with the leader and the follower, both alive",
		`(() => { if (document.getElementById('gossip-panel').hidden) return false;
			const rows = [...document.querySelectorAll('#gossip-table tbody tr')].map(r => [...r.cells].map(c => c.textContent));
			return rows.length === 2 && rows.some(r => r[1] === 'a' && r[2] === 'leader' && r[3] === 'alive') && rows.some(r => r[1] === 'b' && r[2] === 'follower' && r[3] === 'alive'); })()`,
		`document.getElementById('gossip-panel').innerText`)
	if node := eval[string](b, `document.getElementById('node').textContent`); !strings.HasPrefix(node, "leader · site a") {
		t.Errorf("the header says %q, want the leader at site a", node)
	}
	if !eval[bool](b, `document.getElementById('kube-panel').hidden`) {
		t.Error("the Kubernetes panel is shown without a kubernetes section")
	}
	b.screenshot("gossip-leader")

	// The follower: site b's marker lists its own probes and site a's.
	b.run(30*time.Second, "open the follower's status page", chromedp.Navigate(follower.HTTP+"/"))
	b.waitFor(hangGuard, "the follower's view of site b from both sites",
		`(() => { const g = document.querySelector('#markers [data-site="b"]'); const t = g && g.querySelector('title').textContent;
			return t && t.includes('local: up') && t.includes('site/a: up') && document.getElementById('node').textContent.startsWith('follower · site b'); })()`,
		`[document.getElementById('node').textContent, (document.querySelector('#markers [data-site="b"] title') || {}).textContent]`)
	b.run(20*time.Second, "open site b's detail", chromedp.Click(chromedp.CSS(`#sites-table tr[data-site="b"] button`)))
	b.waitFor(10*time.Second, "site b's detail with both sources",
		`[...document.querySelectorAll('#site-detail tbody tr td:first-child')].map(td => td.textContent).join(',') === 'local,site/a'`,
		`document.getElementById('site-detail').innerText`)
	b.screenshot("gossip-follower")

	if p := b.problems(); len(p) > 0 {
		t.Errorf("the page logged %d console errors or exceptions:\n%s", len(p), strings.Join(p, "\n"))
	}
	if other := b.requestsNotTo(leader.HTTP, follower.HTTP); len(other) > 0 {
		t.Errorf("the page made requests to other hosts than the servers: %v", other)
	}

	// Without the stream (blocked, as a buffering proxy would break it)
	// the page polls /api/v1/overview and still follows the health: site
	// b's backend dies, its marker turns red. (The blocked request is a
	// console error here, on purpose: the checks above are done.)
	b.run(10*time.Second, "block the overview stream", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/api/v1/overview/stream", Block: true}}})
		return err
	}))
	b.run(30*time.Second, "open the leader's status page again", chromedp.Navigate(leader.HTTP+"/"))
	b.waitFor(hangGuard, "the page polling, with the sites drawn",
		`document.getElementById('live').textContent === 'polling every 2 s' && document.querySelectorAll('#markers .site').length === 3`,
		`[document.getElementById('live').textContent, document.querySelectorAll('#markers .site').length]`)
	backends[1].kill()
	b.waitFor(hangGuard, "site b's marker red, by polling",
		`document.querySelector('#markers [data-site="b"]').dataset.health === 'down' && document.getElementById('live').textContent === 'polling every 2 s'`,
		markersJS)
}
