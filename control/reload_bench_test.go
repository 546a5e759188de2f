package control

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/test/scale"
)

// BenchmarkReload is serve's reload of a one-service edit, whole: the
// Loader's load (which reuses the running configuration's unchanged
// services), the unchanged-file check and the publish, as the reloader
// runs them. Writing the edited file is not measured.
//
//	go test -run '^$' -bench Reload -benchmem -benchtime 20x ./control
func BenchmarkReload(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			o := scale.Options{Services: n, Check: scale.CheckSharedTCP}
			path := filepath.Join(b.TempDir(), "scale.yaml")
			if err := scale.WriteFile(path, o); err != nil {
				b.Fatal(err)
			}
			first, err := config.Load(config.Options{File: path})
			if err != nil {
				b.Fatal(err)
			}
			p := quietPublisher(first)
			defer p.Stop()
			if err := p.PublishConfig(first); err != nil {
				b.Fatal(err)
			}
			ld := config.NewLoader(config.Options{File: path}, first)
			prev := first
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				o.Variant++
				if err := scale.WriteFile(path, o); err != nil {
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
				if err := p.PublishConfig(next); err != nil {
					b.Fatal(err)
				}
				prev = next
			}
		})
	}
}
