package kube

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/rest"

	"github.com/meridian-gslb/meridian/gslb"
)

// deadKubeconfig has one context whose apiserver address refuses
// connections (port 1 on loopback).
const deadKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: dead
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: dead
  user: {token: "t"}
contexts:
- name: dead
  context: {cluster: dead, user: dead}
current-context: dead
`

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestUnreachableAtStart: a member cluster and a policy cluster that never
// answer do not block the first build; the cluster is stale with an
// error, and a stream of changes is debounced.
func TestUnreachableAtStart(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(deadKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	got := newBuilds()
	ctl, err := New(Config{
		Kubeconfig:         kc,
		PolicyRESTConfig:   &rest.Config{Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{Insecure: true}},
		Zones:              []string{"gslb.test"},
		DefaultPolicy:      basePolicy(),
		OnBuild:            got.add,
		Debounce:           50 * time.Millisecond,
		MaxDelay:           250 * time.Millisecond,
		InitialSyncTimeout: 300 * time.Millisecond,
		ProbeInterval:      50 * time.Millisecond,
		MaxBackoff:         200 * time.Millisecond,
		Logger:             quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	for _, c := range ctl.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(ctx) }()
	defer func() { cancel(); <-done }()

	b := got.wait(t, "a first build", func(Build) bool { return true })
	if !slices.Equal(b.Stale, []string{"dead"}) || len(b.Services) != 0 {
		t.Errorf("first build: stale %v services %v", b.Stale, b.Services)
	}
	st := ctl.Status()
	if len(st) != 1 || !st[0].Stale || st[0].Synced || !strings.Contains(st[0].Error, "unreachable") {
		t.Errorf("status %+v", st)
	}
	// retried with backoff: more failures come
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(ctl.metrics.clusterErrors.WithLabelValues("dead")) < 3; {
		if time.Now().After(deadline) {
			t.Fatal("the unreachable cluster is not retried")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := testutil.GatherAndCount(reg, "meridian_kube_cluster_stale"); err != nil || n != 1 {
		t.Errorf("meridian_kube_cluster_stale series %d, %v", n, err)
	}

	// 1 s of changes every millisecond: one rebuild per MaxDelay at most
	before := testutil.ToFloat64(ctl.metrics.rebuilds)
	start := time.Now()
	for time.Since(start) < time.Second {
		ctl.markDirty()
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	time.Sleep(300 * time.Millisecond)
	n := testutil.ToFloat64(ctl.metrics.rebuilds) - before
	// one rebuild per MaxDelay of constant changes, plus the partial
	// windows at both ends
	limit := float64(elapsed/(250*time.Millisecond)) + 2
	if n < 1 || n > limit {
		t.Errorf("%v rebuilds for %v of constant changes with MaxDelay 250ms, want 1..%v", n, elapsed, limit)
	}
	if last, _ := got.last(); last.Generation != 1 {
		t.Errorf("generation %d: rebuilds without changes must not deliver builds", last.Generation)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Zones: []string{"a."}}, "Kubeconfig"},
		{Config{Kubeconfig: "x"}, "zone"},
		{Config{Kubeconfig: "x", Zones: []string{"a."}, Clusters: []ClusterConfig{{Context: "a"}, {Context: "a"}}}, "listed twice"},
		{Config{Kubeconfig: "x", Zones: []string{"a."}, Namespaces: []string{"Not_A_Namespace"}}, "namespaces[0]"},
		{Config{Kubeconfig: "x", Zones: []string{"a."}, LabelSelector: "a in (b"}, "label selector"},
		{Config{Kubeconfig: "/nonexistent", Zones: []string{"a."}, PolicyRESTConfig: &rest.Config{Host: "https://127.0.0.1:1"}}, "member kubeconfig"},
	} {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error about %q", tt.cfg, err, tt.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := &rest.Config{Host: "https://a", BearerToken: "x"}
	b := &rest.Config{Host: "https://a", BearerToken: "y"}
	if fingerprintConfig("s", a) == fingerprintConfig("s", b) {
		t.Error("a new token does not change the fingerprint")
	}
	if fingerprintConfig("s", a) != fingerprintConfig("s", rest.CopyConfig(a)) {
		t.Error("the same settings give another fingerprint")
	}
	if fingerprintConfig("s", a) == fingerprintConfig("t", a) {
		t.Error("a new site does not change the fingerprint")
	}
}

func TestResolver(t *testing.T) {
	calls := map[string]int{}
	answers := map[string][]netip.Addr{"a.example.": addrs("192.0.2.1", "::ffff:192.0.2.2")}
	changed := 0
	r := newResolver(func(_ context.Context, h string) ([]netip.Addr, error) {
		calls[h]++
		if a, ok := answers[h]; ok {
			return slices.Clone(a), nil
		}
		return nil, errors.New("no such host")
	}, time.Hour, time.Second, func() { changed++ })
	r.setWanted([]string{"a.example.", "b.example."})
	r.resolveAll(context.Background())
	if got := r.snapshot(); len(got) != 1 || !slices.Equal(got["a.example."], addrs("192.0.2.1", "192.0.2.2")) {
		t.Errorf("snapshot %v", got)
	}
	if changed != 1 {
		t.Errorf("changed %d times", changed)
	}
	// the same answers: no rebuild; a failure keeps the last addresses
	r.resolveAll(context.Background())
	delete(answers, "a.example.")
	r.resolveAll(context.Background())
	if got := r.snapshot(); changed != 1 || len(got["a.example."]) != 2 {
		t.Errorf("after a failure: changed %d, snapshot %v", changed, got)
	}
	r.setWanted(nil)
	if got := r.snapshot(); got != nil {
		t.Errorf("names no longer wanted are kept: %v", got)
	}
}

func TestBuildCloneIsDeep(t *testing.T) {
	in := baseInput(ClusterObjects{Name: "east", Site: "east", Ingresses: []*networkingv1.Ingress{
		ingress(meta("a", "x", optIn...), "", []string{"x.gslb.example"}, "192.0.2.1", "lb.example.com"),
	}})
	in.DefaultPolicy.Topology = []gslb.TopologyRule{{Countries: []string{"de"}, Sites: []string{"east"}}}
	in.DefaultHealthCheck = &gslb.HealthCheck{Kind: "http", ExpectStatus: []string{"200"}}
	out := Plan(in)
	b := Build{Services: out.Services, Readiness: out.Readiness}
	c := b.clone()
	if !reflect.DeepEqual(b, c) {
		t.Fatal("the clone differs")
	}
	st := gslb.State{Services: c.Services}
	st.ApplyDefaults() // upper-cases countries, canonicalises, in place
	c.Services[0].Members[0].Addresses[0] = netip.MustParseAddr("192.0.2.99")
	c.Services[0].HealthCheck.ExpectStatus[0] = "500"
	if in.DefaultPolicy.Topology[0].Countries[0] != "de" || b.Services[0].Members[0].Addresses[0] != netip.MustParseAddr("192.0.2.1") ||
		b.Services[0].HealthCheck.ExpectStatus[0] != "200" || in.DefaultHealthCheck.ExpectStatus[0] != "200" {
		t.Error("modifying the clone changed the original")
	}
}

func TestSetClusters(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(deadKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	ctl, err := New(Config{
		Kubeconfig:       kc,
		PolicyRESTConfig: &rest.Config{Host: "https://127.0.0.1:1"},
		Zones:            []string{"gslb.test"},
		Sites:            []string{"dc1"},
		Logger:           quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := ctl.Status()
	if len(st) != 1 || st[0].Name != "dead" || !strings.Contains(st[0].Error, `site "dead" is not a configured site`) {
		t.Errorf("every context, named after itself: %+v", st)
	}
	if err := ctl.SetClusters([]ClusterConfig{{Context: "dead", Site: "dc1"}, {Context: "gone", Site: "dc1"}}); err != nil {
		t.Fatal(err)
	}
	st = ctl.Status()
	if len(st) != 2 || st[0].Name != "dead" || st[0].Site != "dc1" || !st[0].Stale || st[0].Synced ||
		st[1].Name != "gone" || !strings.Contains(st[1].Error, "not in the kubeconfig") {
		t.Errorf("status %+v", st)
	}
	if err := ctl.SetClusters([]ClusterConfig{{Context: "a"}, {Context: "a"}}); err == nil {
		t.Error("a repeated context is accepted")
	}
	if err := os.WriteFile(kc, []byte("not: [a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Reload(); err == nil {
		t.Error("a broken kubeconfig reloads without error")
	}
	if st := ctl.Status(); len(st) != 2 || st[0].Site != "dc1" {
		t.Errorf("a failed reload changed the clusters: %+v", st)
	}
}
