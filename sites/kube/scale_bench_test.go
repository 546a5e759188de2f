package kube

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	discoveryv1client "k8s.io/client-go/kubernetes/typed/discovery/v1"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
)

// BenchmarkController10kIngresses is the leader at scale (issue #4):
// 10,000 Ingresses across 3 real apiservers (3,334 FQDNs, each in every
// cluster, each with a ready EndpointSlice), watched by a Controller. It
// reports the heap the Controller holds once its caches are full and the
// build is delivered (heap-MB: live heap after GC, minus the same before
// the Controller started), and, per op, the time from one Ingress status
// change to the build that carries it (rebuild-ms, the 150 ms debounce
// included). Creating the objects takes about a minute; run it once:
//
//	go test -run '^$' -bench Controller10k -benchtime 5x -count 1 ./sites/kube
func BenchmarkController10kIngresses(b *testing.B) {
	const perCluster = 3334
	names := []string{"east", "west", "south"}
	env := k8stest.Start(b, k8stest.Options{Clusters: names})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	type clients struct {
		net  *networkingv1client.NetworkingV1Client
		disc *discoveryv1client.DiscoveryV1Client
	}
	cl := map[string]clients{}
	for _, n := range names {
		rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: env.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: n}).ClientConfig()
		if err != nil {
			b.Fatal(err)
		}
		rc.QPS, rc.Burst = 2000, 4000
		cl[n] = clients{networkingv1client.NewForConfigOrDie(rc), discoveryv1client.NewForConfigOrDie(rc)}
	}
	// Create everything with a few workers per cluster.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for c, n := range names {
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < perCluster; i += 8 {
					host := fmt.Sprintf("s%d.gslb.test", i)
					ing := ingress(meta("default", fmt.Sprintf("i%d", i), optIn...), fmt.Sprintf("be%d", i), []string{host})
					ing.Spec.Rules[0].HTTP.Paths[0].PathType = ptr(networkingv1.PathTypePrefix)
					got, err := cl[n].net.Ingresses("default").Create(ctx, ing, metav1.CreateOptions{})
					if err == nil {
						got.Status.LoadBalancer.Ingress = lbStatus([]string{fmt.Sprintf("10.%d.%d.%d", c, i/250, i%250+1)})
						_, err = cl[n].net.Ingresses("default").UpdateStatus(ctx, got, metav1.UpdateOptions{})
					}
					if err == nil {
						es := endpoints("default", fmt.Sprintf("be%d", i), "ready")
						es.AddressType = discoveryv1.AddressTypeIPv4
						_, err = cl[n].disc.EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{})
					}
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	var mu sync.Mutex
	var last Build
	arrived := make(chan struct{}, 1)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ctl, err := New(Config{
		Kubeconfig:       env.Kubeconfig,
		PolicyKubeconfig: env.Kubeconfig,
		PolicyContext:    "east",
		Zones:            []string{"gslb.test."},
		DefaultPolicy:    basePolicy(),
		OnBuild: func(x Build) {
			mu.Lock()
			last = x
			mu.Unlock()
			select {
			case arrived <- struct{}{}:
			default:
			}
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(runCtx) }()
	defer func() { stop(); <-done }()
	waitFor := func(what string, ok func(Build) bool) {
		deadline := time.After(5 * time.Minute)
		for {
			mu.Lock()
			x := last
			mu.Unlock()
			if x.Generation > 0 && ok(x) {
				return
			}
			select {
			case <-arrived:
			case <-deadline:
				b.Fatalf("no build with %s (last: %d services)", what, len(x.Services))
			}
		}
	}
	waitFor("every service", func(x Build) bool { return len(x.Services) == perCluster })
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / 1e6

	var total time.Duration
	n := 0
	for b.Loop() {
		n++
		vip := fmt.Sprintf("10.9.%d.%d", n/250, n%250+1)
		patch := fmt.Sprintf(`{"status":{"loadBalancer":{"ingress":[{"ip":%q}]}}}`, vip)
		start := time.Now()
		if _, err := cl["east"].net.Ingresses("default").Patch(ctx, "i0", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
			b.Fatal(err)
		}
		waitFor("the patched VIP", func(x Build) bool {
			for _, svc := range x.Services {
				if svc.Name == "s0.gslb.test." {
					for _, m := range svc.Members {
						for _, a := range m.Addresses {
							if a.String() == vip {
								return true
							}
						}
					}
				}
			}
			return false
		})
		total += time.Since(start)
	}
	b.ReportMetric(heap, "heap-MB")
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "rebuild-ms")
}
