package kube

import (
	"context"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// resolver keeps the addresses of the load-balancer host names that
// policies with hostnameVIPs: resolve ask for. It resolves off the build
// path; a change of addresses asks for a rebuild. A failed lookup keeps
// the last addresses.
type resolver struct {
	lookup   func(ctx context.Context, host string) ([]netip.Addr, error)
	interval time.Duration
	timeout  time.Duration
	changed  func()

	mu      sync.Mutex
	want    []string
	results map[string][]netip.Addr
	kick    chan struct{}
}

func newResolver(lookup func(context.Context, string) ([]netip.Addr, error), interval, timeout time.Duration, changed func()) *resolver {
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	return &resolver{lookup: lookup, interval: interval, timeout: timeout, changed: changed,
		results: map[string][]netip.Addr{}, kick: make(chan struct{}, 1)}
}

// setWanted records the host names the last build wants resolved.
func (r *resolver) setWanted(hosts []string) {
	r.mu.Lock()
	same := slices.Equal(r.want, hosts)
	r.want = slices.Clone(hosts)
	for h := range r.results {
		if _, ok := slices.BinarySearch(r.want, h); !ok {
			delete(r.results, h)
		}
	}
	r.mu.Unlock()
	if !same {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// snapshot returns the current addresses (shared slices: read only).
func (r *resolver) snapshot() map[string][]netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.results) == 0 {
		return nil
	}
	return maps.Clone(r.results)
}

func (r *resolver) run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
		r.resolveAll(ctx)
	}
}

func (r *resolver) resolveAll(ctx context.Context) {
	r.mu.Lock()
	want := slices.Clone(r.want)
	r.mu.Unlock()
	changed := false
	for _, h := range want {
		lctx, cancel := context.WithTimeout(ctx, r.timeout)
		addrs, err := r.lookup(lctx, h)
		cancel()
		if err != nil || len(addrs) == 0 {
			continue // keep the last-known addresses
		}
		for i, a := range addrs {
			addrs[i] = a.Unmap()
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		r.mu.Lock()
		if _, still := slices.BinarySearch(r.want, h); still && !slices.Equal(r.results[h], addrs) {
			r.results[h] = addrs
			changed = true
		}
		r.mu.Unlock()
	}
	if changed && r.changed != nil {
		r.changed()
	}
}
