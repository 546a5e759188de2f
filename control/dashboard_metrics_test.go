package control

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
)

// dashboardFile is the Grafana dashboard the Helm chart ships.
const dashboardFile = "../deploy/helm/meridian/dashboards/meridian.json"

// metricNameRE finds our metric names in PromQL. Every Meridian metric
// starts with meridian_ and PromQL names are [a-zA-Z_:][a-zA-Z0-9_:]*, so
// the longest match from "meridian_" is the whole name; the label names
// and values the dashboard uses never contain "meridian_". A regular
// expression rather than a PromQL parser keeps the Prometheus server
// out of go.mod; it reads every string of the dashboard (queries,
// variable queries, descriptions), so even a description may name only
// a real metric.
var metricNameRE = regexp.MustCompile(`meridian_[a-zA-Z0-9_:]*`)

// TestDashboardMetricsExist fails when the chart's Grafana dashboard
// names a metric the server does not export. The exported names come
// from a Server built with every optional part (gossip, Kubernetes, a
// health check): the Describe output of each registered collector, so a
// vector without samples yet counts too, and the types from a Gather,
// so that name_bucket, name_sum and name_count are accepted only for a
// histogram (or summary, for the last two).
func TestDashboardMetricsExist(t *testing.T) {
	families, types := exportedFamilies(t)

	raw, err := os.ReadFile(dashboardFile)
	must(t, err)
	var dash any
	must(t, json.Unmarshal(raw, &dash))
	used := map[string][]string{} // metric name -> where
	nExprs := 0
	walkStrings(dash, "", func(path, s string) {
		if strings.HasSuffix(path, ".expr") {
			nExprs++
		}
		for _, name := range metricNameRE.FindAllString(s, -1) {
			used[name] = append(used[name], path)
		}
	})
	if nExprs == 0 || len(used) == 0 {
		t.Fatalf("%s: no queries found (%d exprs, %d metric names)", dashboardFile, nExprs, len(used))
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range used {
			if !yield(n) {
				return
			}
		}
	}) {
		if err := checkExported(name, families, types); err != nil {
			t.Errorf("%s: %v (at %s)", name, err, strings.Join(used[name], ", "))
		}
	}
	t.Logf("%d metric names in %d queries, all exported (%d families)", len(used), nExprs, len(families))
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range families {
			if !yield(n) {
				return
			}
		}
	}) {
		if len(used[name]) == 0 && len(used[name+"_bucket"]) == 0 && len(used[name+"_count"]) == 0 {
			t.Logf("not on the dashboard: %s", name)
		}
	}
}

// checkExported checks one name used in a query against the families.
func checkExported(name string, families map[string]bool, types map[string]string) error {
	if families[name] {
		return nil
	}
	for suffix, kinds := range map[string][]string{
		"_bucket": {"HISTOGRAM"},
		"_sum":    {"HISTOGRAM", "SUMMARY"},
		"_count":  {"HISTOGRAM", "SUMMARY"},
	} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok || !families[base] {
			continue
		}
		typ, known := types[base]
		switch {
		case !known:
			return fmt.Errorf("%s is exported but had no sample in the test server, so whether it has %s series is unknown", base, suffix)
		case !slices.Contains(kinds, typ):
			return fmt.Errorf("%s is a %s, which has no %s series", base, typ, suffix)
		}
		return nil
	}
	return fmt.Errorf("not exported by the server")
}

// exportedFamilies builds a Server with gossip, the Kubernetes section
// and a probed service, and returns the names of its meridian_ metric
// families (from Describe) and the types of those that Gather reports.
func exportedFamilies(t *testing.T) (map[string]bool, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	// Read when the server is built, never contacted: nothing runs.
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeFile(t, kubeconfig, `apiVersion: v1
kind: Config
clusters:
  - name: east
    cluster: {server: "https://127.0.0.1:1"}
users:
  - name: east
    user: {token: test}
contexts:
  - name: east
    context: {cluster: east, user: east}
current-context: east
`)
	path := filepath.Join(dir, "meridian.yaml")
	writeFile(t, path, fmt.Sprintf(`log: {level: warn}
dns: {listen: ["127.0.0.1:0"]}
http: {listen: "127.0.0.1:0"}
zones:
  - name: gslb.example.
    nameservers: [{name: ns1.gslb.example., addresses: [127.0.0.1]}]
sites:
  - name: east
services:
  - name: app.gslb.example.
    members:
      - {site: east, addresses: [127.0.0.1]}
    health_check: {kind: tcp, port: 1}
gossip: {role: leader, site: east, listen: 127.0.0.1:0, insecure: true, timing: local}
kubernetes:
  kubeconfig: %s
  clusters: [{context: east, site: east}]
  policy_context: east
`, kubeconfig))
	l, err := config.Load(config.Options{File: path})
	must(t, err)
	s, err := New(l, Options{Log: slog.New(slog.DiscardHandler), Level: new(slog.LevelVar)})
	must(t, err)
	t.Cleanup(s.abort)
	if s.gossip == nil || s.kube == nil {
		t.Fatalf("gossip %v, kubernetes %v: the test server lacks a part", s.gossip != nil, s.kube != nil)
	}

	// Every collector New registers (server.go); Gather below checks that
	// none with samples is missing from this list.
	var cs []prometheus.Collector
	cs = append(cs, s.dns.Collector())
	cs = append(cs, s.metrics.collectors()...)
	cs = append(cs, s.pub.collectors()...)
	cs = append(cs, s.deleg.collectors()...)
	cs = append(cs, s.gossip.collectors()...)
	cs = append(cs, s.kube.collectors()...)
	families := map[string]bool{}
	descs := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(descs)
		}
		close(descs)
	}()
	for d := range descs {
		name := descName(t, d)
		if strings.HasPrefix(name, "meridian_") {
			families[name] = true
		}
	}

	mfs, err := s.Registry().Gather()
	must(t, err)
	types := map[string]string{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "meridian_") {
			continue
		}
		if !families[name] {
			t.Errorf("%s is gathered but no collector of this test describes it: add its component above", name)
		}
		types[name] = mf.GetType().String() // HISTOGRAM, COUNTER, ...
	}
	// The few the dashboard needs to be histograms, to catch a test
	// server that quietly lost a part.
	for _, name := range []string{"meridian_dns_request_duration_seconds", "meridian_health_probe_duration_seconds", "meridian_sites_propagation_lag_seconds", "meridian_kube_rebuild_duration_seconds", "meridian_geo_compile_seconds"} {
		if types[name] != "HISTOGRAM" {
			t.Errorf("%s: type %q in the test server, want a histogram", name, types[name])
		}
	}
	return families, types
}

// descNameRE reads the name out of a Desc's String(), the only place
// client_golang shows it: Desc{fqName: "name", help: ...}.
var descNameRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)

func descName(t *testing.T, d *prometheus.Desc) string {
	t.Helper()
	m := descNameRE.FindStringSubmatch(d.String())
	if m == nil {
		t.Fatalf("cannot read a metric name in %s", d)
	}
	return m[1]
}

// walkStrings calls f with every string in v and its JSON path.
func walkStrings(v any, path string, f func(path, s string)) {
	switch v := v.(type) {
	case string:
		f(path, v)
	case map[string]any:
		for k, e := range v {
			walkStrings(e, path+"."+k, f)
		}
	case []any:
		for i, e := range v {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}
