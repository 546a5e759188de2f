package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Geoproximity bias (issue 12) with real parts: `meridian serve` with three
// sites, clients placed by geo rules at the cities of the worked example in
// docs/configuration.md ("Geoproximity bias"), queried over UDP with ECS;
// then the config file is rewritten with a bias and reloaded, and the same
// clients get the sites the documentation says, uncompiled at once and
// from the compiled decision once it is bound.

// geoBiasConfig is the test's config; eu-west's bias is the line
// "    bias: 0 # eu-west" that the test rewrites.
const geoBiasConfig = `zones:
  - name: bias.test.
    soa: {mname: ns1.bias.test., rname: hostmaster.bias.test., serial: 1, minimum: 60}
    nameservers: [{name: ns1.bias.test., addresses: [127.0.0.1]}]
geo:
  rules:
    - {cidr: 198.18.1.0/24, location: {lat: 47.56, lon: -52.71, country: CA, continent: NA}} # St. John's
    - {cidr: 198.18.2.0/24, location: {lat: 41.88, lon: -87.63, country: US, continent: NA}} # Chicago
    - {cidr: 198.18.3.0/24, location: {lat: 30.04, lon: 31.24, country: EG, continent: AF}}  # Cairo
    - {cidr: 198.18.4.0/24, location: {lat: 19.08, lon: 72.88, country: IN, continent: AS}}  # Mumbai
sites:
  - name: us-east
    location: {lat: 39.04, lon: -77.49, country: US, continent: NA}
  - name: eu-west
    location: {lat: 53.35, lon: -6.26, country: IE, continent: EU}
    bias: 0 # eu-west
  - name: ap-south
    location: {lat: 19.08, lon: 72.88, country: IN, continent: AS}
services:
  - name: app.bias.test.
    policy: {strategy: geo, ttl: 30}
    members:
      - {site: us-east, addresses: [192.0.2.10]}
      - {site: eu-west, addresses: [198.51.100.10]}
      - {site: ap-south, addresses: [203.0.113.10]}
`

// The clients, and the answer of each site.
const (
	biasStJohns = "198.18.1.0/24"
	biasChicago = "198.18.2.0/24"
	biasCairo   = "198.18.3.0/24"
	biasMumbai  = "198.18.4.0/24"
	biasUS      = "192.0.2.10"
	biasEU      = "198.51.100.10"
	biasAP      = "203.0.113.10"
)

var biasSiteOf = map[string]string{biasUS: "us-east", biasEU: "eu-west", biasAP: "ap-south"}

func TestGeoBias(t *testing.T) {
	t.Parallel()
	watchdog(t, 3*time.Minute)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "meridian.yaml", geoBiasConfig)
	m := startMeridian(t, filepath.Join(dir, "meridian.yaml"), []string{"127.0.0.1:0"}, "127.0.0.1:0")

	clients := []string{biasStJohns, biasChicago, biasCairo, biasMumbai}
	steps := []struct {
		bias string
		want map[string]string // client -> answered address
	}{
		// No bias: St. John's is 2205.0 km from us-east and 3289.8 km from
		// eu-west; Cairo 3975.0 km from eu-west and 4357.8 km from ap-south.
		{"0", map[string]string{biasStJohns: biasUS, biasChicago: biasUS, biasCairo: biasEU, biasMumbai: biasAP}},
		// eu-west +50: 3289.8 x 0.5 = 1644.9 km < 2205.0, St. John's moves
		// to eu-west; Chicago (913.5 km against 5889.6 x 0.5 = 2944.8)
		// stays on us-east.
		{"50", map[string]string{biasStJohns: biasEU, biasChicago: biasUS, biasCairo: biasEU, biasMumbai: biasAP}},
		// eu-west -50: Cairo's 3975.0 km count 5962.5, farther than
		// ap-south: Cairo moves there; St. John's goes back to us-east.
		{"-50", map[string]string{biasStJohns: biasUS, biasChicago: biasUS, biasCairo: biasAP, biasMumbai: biasAP}},
	}
	prevBias := "0"
	var gen uint64
	for i, step := range steps {
		if i > 0 {
			rewriteConfig(t, cfg, "    bias: "+prevBias+" # eu-west\n", "    bias: "+step.bias+" # eu-west\n")
			prevBias = step.bias
		}
		// The reload is served: explain reports a new generation. The
		// compiled decisions of the old sites are dropped at once, so
		// the answers right after the reload are the uncompiled
		// strategy's, already biased.
		gen = waitGeneration(t, m, gen)
		for _, c := range clients {
			if got := biasAnswer(t, m, c); got != step.want[c] {
				t.Errorf("bias %s, at once after the reload: %s gets %s (%s), want %s (%s)",
					step.bias, c, got, biasSiteOf[got], step.want[c], biasSiteOf[step.want[c]])
			}
		}
		// Then the compiled decision for the new bias is bound: the same
		// answers, and ECS scopes (the compiled networks) that hold no
		// client answered otherwise.
		for _, c := range clients {
			ex := waitBiasCompiled(t, m, c, gen)
			r := exchange(t, m.DNS[0], dnsQuery{name: "app.bias.test", qtype: dns.TypeA, ecs: c})
			got := addrs(r)
			e := ecsOf(r)
			if len(got) != 1 || got[0] != step.want[c] || e == nil {
				t.Errorf("bias %s, compiled: %s gets %s, want %s (%s) with ECS", step.bias, c, describe(r), step.want[c], biasSiteOf[step.want[c]])
				continue
			}
			scope, err := netip.MustParsePrefix(c).Addr().Prefix(int(e.SourceScope))
			if err != nil || e.SourceScope == 0 || e.SourceScope > 24 || ex.Trace.Compiled.Network != scope.String() {
				t.Errorf("bias %s: %s answered with scope /%d, explain's compiled network %s; want the same network, /1../24",
					step.bias, c, e.SourceScope, ex.Trace.Compiled.Network)
			}
			for _, o := range clients {
				if o != c && scope.Overlaps(netip.MustParsePrefix(o)) && step.want[o] != step.want[c] {
					t.Errorf("bias %s: %s's scope %s holds %s, which is answered %s", step.bias, c, scope, o, step.want[o])
				}
			}
			t.Logf("bias %s: %s -> %s (%s), scope %s, order %v", step.bias, c, got[0], biasSiteOf[got[0]], scope, ex.Trace.Compiled.Order)
		}
		// Explain shows the distance and the biased distance compared.
		ex := waitBiasCompiled(t, m, biasStJohns, gen)
		want := map[string][2]float64{"us-east": {2205.0, -1}, "eu-west": {3289.8, -1}}
		if step.bias != "0" {
			f := 1 - float64(atoi(t, step.bias))/100
			want["eu-west"] = [2]float64{3289.8, 3289.8 * f}
		}
		for _, v := range ex.Trace.Members {
			w, ok := want[v.Site]
			if !ok {
				continue
			}
			if v.DistanceKm == nil || math.Abs(*v.DistanceKm-w[0]) > 0.1 {
				t.Errorf("bias %s: explain's distance from St. John's to %s is %v, want %.1f km", step.bias, v.Site, v.DistanceKm, w[0])
			}
			switch {
			case w[1] < 0 && v.BiasedKm != nil:
				t.Errorf("bias %s: explain reports a biased distance %.1f km for unbiased %s", step.bias, *v.BiasedKm, v.Site)
			case w[1] >= 0 && (v.BiasedKm == nil || math.Abs(*v.BiasedKm-w[1]) > 0.2):
				t.Errorf("bias %s: explain's biased distance to %s is %v, want %.1f km", step.bias, v.Site, v.BiasedKm, w[1])
			}
		}
	}

	// A bias out of range is refused at its path, and the last good
	// configuration keeps serving.
	rewriteConfig(t, cfg, "    bias: "+prevBias+" # eu-west\n", "    bias: 100 # eu-west\n")
	deadline := time.Now().Add(hangGuard)
	for !strings.Contains(m.Out.String(), "sites[1].bias: bias 100 is out of range") {
		if time.Now().After(deadline) {
			t.Fatalf("no rejected reload naming sites[1].bias after %v:\n%s", hangGuard, m.Out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := biasAnswer(t, m, biasCairo); got != biasAP {
		t.Errorf("after the rejected reload Cairo gets %s, want %s (the last good bias, -50)", got, biasAP)
	}
}

// biasExplain is the part of /api/v1/explain the test reads.
type biasExplain struct {
	Generation uint64 `json:"generation"`
	Trace      struct {
		Compiled *struct {
			Network string   `json:"network"`
			Order   []string `json:"order"`
		} `json:"compiled"`
		Members []struct {
			Site       string   `json:"site"`
			DistanceKm *float64 `json:"distance_km"`
			BiasedKm   *float64 `json:"biased_km"`
		} `json:"members"`
	} `json:"trace"`
}

func explainBias(t *testing.T, m *meridian, client string) biasExplain {
	t.Helper()
	code, body := proctest.HTTP(t, "GET", fmt.Sprintf("%s/api/v1/explain?name=app.bias.test&type=A&client=%s", m.HTTP, client))
	var ex biasExplain
	if code != 200 || json.Unmarshal([]byte(body), &ex) != nil {
		t.Fatalf("explain for %s: %d\n%s", client, code, body)
	}
	return ex
}

// waitGeneration waits until m serves a generation above prev (any, for
// prev 0) and returns it.
func waitGeneration(t *testing.T, m *meridian, prev uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		if g := explainBias(t, m, biasChicago).Generation; g > prev {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("generation %d still served %v after the config was rewritten:\n%s", prev, hangGuard, m.Out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBiasCompiled waits until client's answer in generation gen comes
// from a compiled decision, and returns the explanation.
func waitBiasCompiled(t *testing.T, m *meridian, client string, gen uint64) biasExplain {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ex := explainBias(t, m, client)
		if ex.Generation != gen {
			t.Fatalf("generation %d served while waiting for generation %d's compiled decision", ex.Generation, gen)
		}
		if ex.Trace.Compiled != nil {
			return ex
		}
		if time.Now().After(deadline) {
			t.Fatalf("generation %d: no compiled decision for %s after 30 s", gen, client)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// biasAnswer is the one address app.bias.test answers client's network.
func biasAnswer(t *testing.T, m *meridian, client string) string {
	t.Helper()
	r := exchange(t, m.DNS[0], dnsQuery{name: "app.bias.test", qtype: dns.TypeA, ecs: client})
	got := addrs(r)
	if r.Rcode != dns.RcodeSuccess || len(got) != 1 {
		t.Fatalf("app.bias.test from %s: %s, want one address", client, describe(r))
	}
	return got[0]
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
