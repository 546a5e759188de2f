package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// scaleSizes are the benchmarks' service counts: growth from one to the
// next should be linear.
var scaleSizes = []struct {
	name     string
	services int
}{{"10k", 10_000}, {"40k", 40_000}, {"100k", 100_000}}

// writeScale writes a generated configuration of n services (see
// test/scale) to dir and returns its path.
func writeScale(tb testing.TB, dir string, o scale.Options) string {
	tb.Helper()
	path := filepath.Join(dir, fmt.Sprintf("scale-%d-%d.yaml", o.Services, o.Variant))
	if err := scale.WriteFile(path, o); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkLoad is one cold load (check-config, serve's start).
func BenchmarkLoad(b *testing.B) {
	for _, size := range scaleSizes {
		b.Run(size.name, func(b *testing.B) {
			path := writeScale(b, b.TempDir(), scale.Options{Services: size.services})
			b.ReportAllocs()
			for b.Loop() {
				_, err := Load(Options{File: path})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReloadOneEdit is a reload's config step after one service's
// TTL changed: the Loader's load, then Same against the running
// configuration (as control's reloader does).
func BenchmarkReloadOneEdit(b *testing.B) {
	for _, size := range scaleSizes {
		b.Run(size.name, func(b *testing.B) {
			dir := b.TempDir()
			path := writeScale(b, dir, scale.Options{Services: size.services})
			ld := NewLoader(Options{File: path}, nil)
			prev, err := ld.Load()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			variant := 0
			for b.Loop() {
				b.StopTimer()
				variant++
				f, err := os.Create(path)
				if err == nil {
					err = scale.Write(f, scale.Options{Services: size.services, Variant: variant})
				}
				if err == nil {
					err = f.Close()
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				next, err := ld.Load()
				if err != nil {
					b.Fatal(err)
				}
				if prev.Same(next) {
					b.Fatal("the edit went unnoticed")
				}
				prev = next
			}
		})
	}
}
