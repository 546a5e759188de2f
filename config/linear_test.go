package config

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// mallocs counts the heap allocations of f.
func mallocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

// TestLoadIsLinear would catch a quadratic path in the load (a linear
// search per service, say) without timing anything: a load of 40k
// services may allocate at most 2.2 times what a load of 20k does, and
// so may a one-service reload through a Loader.
func TestLoadIsLinear(t *testing.T) {
	dir := t.TempDir()
	load := map[int]uint64{}
	reload := map[int]uint64{}
	for _, n := range []int{20_000, 40_000} {
		path := filepath.Join(dir, "m.yaml")
		rewriteScale(t, path, scale.Options{Services: n})
		ld := NewLoader(Options{File: path}, nil)
		load[n] = mallocs(func() {
			_, err := ld.Load()
			must(t, err)
		})
		rewriteScale(t, path, scale.Options{Services: n, Variant: 1})
		reload[n] = mallocs(func() {
			_, err := ld.Load()
			must(t, err)
		})
	}
	for name, m := range map[string]map[int]uint64{"load": load, "one-service reload": reload} {
		t.Logf("%s: %d allocations at 20k services, %d at 40k", name, m[20_000], m[40_000])
		if float64(m[40_000]) > 2.2*float64(m[20_000]) {
			t.Errorf("%s: %d allocations at 40k services, more than 2.2 times the %d at 20k: a quadratic path?", name, m[40_000], m[20_000])
		}
	}
}
