package gslb

import (
	"runtime"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// The stages of a publish in gslb at scale (issue 10), each as a full
// build and as the build that follows a one-service edit:
//
//	go test -run '^$' -bench 'Validate|Compile' -benchmem ./gslb
func BenchmarkValidate(b *testing.B) {
	for _, n := range scaleSizes {
		st := scaleState(scale.Options{Services: n, Check: scale.CheckSharedTCP})
		edited := scaleState(scale.Options{Services: n, Check: scale.CheckSharedTCP, Variant: 7})
		b.Run(sizeName(n)+"/full", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := st.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sizeName(n)+"/oneEdit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := edited.ValidateChanged(st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range scaleSizes {
		st := mustValid(b, scaleState(scale.Options{Services: n, Check: scale.CheckSharedTCP}))
		edited := mustValid(b, scaleState(scale.Options{Services: n, Check: scale.CheckSharedTCP, Variant: 7}))
		b.Run(sizeName(n)+"/full", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewSnapshot(st, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		prev, err := NewSnapshot(st, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(sizeName(n)+"/oneEdit", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := prev.Next(edited, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestScaleNotQuadratic catches a quadratic path in validation or
// compilation without timing anything: doubling the services may at most
// double the allocations of a full build (plus a margin), and barely
// change those of a one-service edit, whose only linear parts are a few
// slices (the services map is shared, not copied: SharedMap). The bytes
// allocated may at most double too, whatever the stage: that catches a
// slice copied once per service. (A quadratic search that allocates
// nothing escapes both counts; the review of such loops is on us.)
func TestScaleNotQuadratic(t *testing.T) {
	type stage struct {
		name string
		run  func(st, edited *State, prev *Snapshot)
		max  float64
	}
	stages := []stage{
		{"Validate", func(st, _ *State, _ *Snapshot) { _ = st.Validate() }, 2.2},
		{"NewSnapshot", func(st, _ *State, _ *Snapshot) { _, _ = NewSnapshot(st, nil, nil) }, 2.2},
		{"ValidateChanged/oneEdit", func(st, edited *State, _ *Snapshot) { _ = edited.ValidateChanged(st) }, 1.3},
		{"Next/oneEdit", func(_, edited *State, prev *Snapshot) { _, _ = prev.Next(edited, nil, nil) }, 1.3},
	}
	allocs, bytes := map[string][2]float64{}, map[string][2]float64{}
	for k, n := range []int{20_000, 40_000} {
		st := mustValid(t, scaleState(scale.Options{Services: n, Check: scale.CheckSharedTCP}))
		edited := mustValid(t, scaleState(scale.Options{Services: n, Check: scale.CheckSharedTCP, Variant: 7}))
		prev, err := NewSnapshot(st, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stages {
			a := allocs[s.name]
			a[k] = testing.AllocsPerRun(1, func() { s.run(st, edited, prev) })
			b := bytes[s.name]
			b[k] = bytesPerRun(func() { s.run(st, edited, prev) })
			bytes[s.name] = b
			allocs[s.name] = a
		}
	}
	for _, s := range stages {
		a := allocs[s.name]
		b := bytes[s.name]
		t.Logf("%s: %.0f allocations and %.0f bytes at 20k services, %.0f and %.0f at 40k", s.name, a[0], b[0], a[1], b[1])
		if a[1] > s.max*a[0] {
			t.Errorf("%s: %.0f allocations at 40k services, more than %.1f x the %.0f at 20k", s.name, a[1], s.max, a[0])
		}
		if b[1] > 2.2*b[0] {
			t.Errorf("%s: %.0f bytes allocated at 40k services, more than 2.2 x the %.0f at 20k", s.name, b[1], b[0])
		}
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
