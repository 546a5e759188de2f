package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// policyCluster watches the GlobalPolicy and HostPolicy objects of the
// policy cluster and writes their status. Kinds whose CRD is not
// installed are looked for again every DiscoveryInterval.
type policyCluster struct {
	ctl *Controller
	cfg *rest.Config
	dyn dynamic.Interface
	log *slog.Logger

	wg        sync.WaitGroup // the informers' goroutines
	mu        sync.Mutex
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	contacted bool   // discovery answered at least once
	err       string // last error
}

func newPolicyCluster(ctl *Controller, cfg *rest.Config) (*policyCluster, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &policyCluster{ctl: ctl, cfg: cfg, dyn: dyn, log: ctl.log.With("cluster", "policy"),
		informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{}}, nil
}

func (pc *policyCluster) run(ctx context.Context) {
	o := &pc.ctl.opts
	raw, err := corev1client.NewForConfig(pc.cfg)
	if err != nil {
		pc.setErr(err)
		return
	}
	backoff := o.probeInterval
	for {
		wait := o.discoveryInterval
		served, err := pc.discover(ctx, raw.RESTClient())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			pc.setErr(fmt.Errorf("discovery: %w", err))
			wait = backoff
			backoff = min(backoff*2, o.maxBackoff)
		default:
			backoff = o.probeInterval
			pc.mu.Lock()
			pc.contacted, pc.err = true, ""
			pc.mu.Unlock()
			for _, r := range policyResources {
				if served[r.gvr.Resource] {
					pc.startInformer(ctx, r.gvr)
				}
			}
			if pc.allStarted() {
				return // the reflectors take it from here
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (pc *policyCluster) setErr(err error) {
	pc.log.Warn("policy cluster", "error", err)
	pc.mu.Lock()
	pc.err = err.Error()
	pc.mu.Unlock()
}

func (pc *policyCluster) discover(ctx context.Context, rc rest.Interface) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, pc.ctl.opts.probeTimeout)
	defer cancel()
	body, err := rc.Get().AbsPath("/apis", GlobalPolicyResource.Group, GlobalPolicyResource.Version).DoRaw(ctx)
	served := map[string]bool{}
	switch {
	case apierrors.IsNotFound(err):
		return served, nil
	case err != nil:
		return nil, err
	}
	var l metav1.APIResourceList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, err
	}
	for _, r := range l.APIResources {
		served[r.Name] = true
	}
	return served, nil
}

func (pc *policyCluster) startInformer(ctx context.Context, gvr schema.GroupVersionResource) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.informers[gvr] != nil {
		return
	}
	ri := pc.dyn.Resource(gvr)
	inf := cache.NewSharedIndexInformerWithOptions(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return ri.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return ri.Watch(ctx, opts)
		},
	}, &unstructured.Unstructured{}, cache.SharedIndexInformerOptions{})
	_ = inf.SetTransform(slimPolicy)
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { pc.ctl.markDirty() },
		UpdateFunc: func(any, any) { pc.ctl.markDirty() },
		DeleteFunc: func(any) { pc.ctl.markDirty() },
	})
	pc.informers[gvr] = inf
	pc.wg.Go(func() { inf.RunWithContext(ctx) })
	pc.log.Debug("watching policies", "resource", gvr.Resource)
}

func (pc *policyCluster) allStarted() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return len(pc.informers) == 2
}

// synced reports whether the policies are known: the cluster answered and
// every started informer has synced.
func (pc *policyCluster) synced() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if !pc.contacted {
		return false
	}
	for _, inf := range pc.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

func (pc *policyCluster) list(gvr schema.GroupVersionResource) []*unstructured.Unstructured {
	pc.mu.Lock()
	inf := pc.informers[gvr]
	pc.mu.Unlock()
	if inf == nil {
		return nil
	}
	var out []*unstructured.Unstructured
	for _, o := range inf.GetStore().List() {
		if u, ok := o.(*unstructured.Unstructured); ok {
			out = append(out, u)
		}
	}
	return out
}
