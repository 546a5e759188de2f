package health

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

var scaleSizes = []int{10_000, 40_000, 100_000}

// BenchmarkHealthPlan plans n services whose members share one tcp check
// at five probe addresses (five targets, each used by 60% of the
// services): a full plan, and the plan that follows a one-service edit.
// Both must grow linearly with n, the edit only by pointer work (issue
// 10):
//
//	go test -run '^$' -bench HealthPlan -benchmem ./health
func BenchmarkHealthPlan(b *testing.B) {
	for _, n := range scaleSizes {
		o := scale.Options{Services: n, Check: scale.CheckSharedTCP}
		st := scaleState(o)
		o.Variant = 7
		edited := scaleState(o)
		b.Run(fmt.Sprintf("%dk/full", n/1000), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p, err := NewPlan(st, PlanOptions{}); err != nil || len(p.Targets()) != 5 {
					b.Fatalf("plan: %v", err)
				}
			}
		})
		prev, err := NewPlan(st, PlanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dk/oneEdit", n/1000), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := prev.Next(edited, PlanOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPlanNotQuadratic catches a quadratic path in planning without
// timing anything: at 40k services a full plan may allocate at most 2.2
// times what it does at 20k (in allocations and in bytes: a list of a
// target's services copied once per service fails), and a one-service
// edit about the same (its linear parts are map copies, subtracted here,
// and a slice).
func TestPlanNotQuadratic(t *testing.T) {
	var full, fullBytes, edit [2]float64
	for i, n := range []int{20_000, 40_000} {
		o := scale.Options{Services: n, Check: scale.CheckSharedTCP}
		st := scaleState(o)
		o.Variant = 7
		edited := scaleState(o)
		full[i] = testing.AllocsPerRun(1, func() { _, _ = NewPlan(st, PlanOptions{}) })
		fullBytes[i] = bytesPerRun(func() { _, _ = NewPlan(st, PlanOptions{}) })
		prev, _ := NewPlan(st, PlanOptions{})
		edit[i] = testing.AllocsPerRun(1, func() { _, _ = prev.Next(edited, PlanOptions{}) }) -
			testing.AllocsPerRun(1, func() { _ = cloneMaps(prev) })
	}
	t.Logf("full plan: %.0f allocations at 20k services, %.0f at 40k; one edit: %.0f and %.0f besides the map copies", full[0], full[1], edit[0], edit[1])
	if full[1] > 2.2*full[0] {
		t.Errorf("full plan: %.0f allocations at 40k services, more than 2.2 x the %.0f at 20k", full[1], full[0])
	}
	if fullBytes[1] > 2.2*fullBytes[0] {
		t.Errorf("full plan: %.0f bytes allocated at 40k services, more than 2.2 x the %.0f at 20k", fullBytes[1], fullBytes[0])
	}
	if edit[1] > 1.3*edit[0] {
		t.Errorf("one edit: %.0f allocations at 40k services, more than 1.3 x the %.0f at 20k", edit[1], edit[0])
	}
}

// bytesPerRun is the bytes f allocates, after a first run that warms up.
func bytesPerRun(f func()) float64 {
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc - before.TotalAlloc)
}
