//go:build linux

package main

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsAreOrderedAndTight(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<34; v = v + 1 + v/97 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d < %d", v, b, prev)
		}
		prev = b
		if mid := bucketMid(b); v >= 128 && (float64(mid) < float64(v)*0.98 || float64(mid) > float64(v)*1.02) {
			t.Fatalf("bucketMid(bucketOf(%d)) = %d, more than 2%% off", v, mid)
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h hist
	rng := rand.New(rand.NewPCG(1, 2))
	var all []int64
	for range 100000 {
		v := int64(rng.ExpFloat64() * 200000) // ~0.2 ms
		h.add(v)
		all = append(all, v)
	}
	slices.Sort(all)
	for _, p := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[int(p*float64(len(all)))-1]
		got := h.quantile(p)
		if float64(got) < float64(exact)*0.97 || float64(got) > float64(exact)*1.03 {
			t.Errorf("p%v: got %d, exact %d", p*100, got, exact)
		}
	}
	// lost queries count as slower than any answer
	h.lost = 200 // 0.2%
	if h.quantile(0.99) < 0 {
		t.Error("p99 with 0.2% lost should be an answer")
	}
	if h.quantile(0.999) != -1 {
		t.Error("p99.9 with 0.2% lost should fall on a lost query")
	}
}
