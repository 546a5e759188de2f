package control

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/test/scale"
)

// scaleServe is serve's configuration pipeline on a generated
// configuration, without the listeners: the first load published, and
// the Loader the reloads go through, as serve keeps them.
type scaleServe struct {
	o    scale.Options
	path string
	pub  *Publisher
	ld   *config.Loader
	cur  *config.Loaded
}

// newScaleServe writes o, loads and publishes it. The caller stops pub.
func newScaleServe(tb testing.TB, o scale.Options) *scaleServe {
	tb.Helper()
	s := &scaleServe{o: o, path: filepath.Join(tb.TempDir(), "scale.yaml")}
	s.edit(tb)
	first, err := config.Load(config.Options{File: s.path})
	if err != nil {
		tb.Fatal(err)
	}
	s.pub, s.cur = quietPublisher(first), first
	if err := s.pub.PublishConfig(first); err != nil {
		tb.Fatal(err)
	}
	s.ld = config.NewLoader(config.Options{File: s.path}, first)
	return s
}

// edit writes the configuration again with the next variant: one
// service's TTL changed (the first call writes o as given).
func (s *scaleServe) edit(tb testing.TB) {
	tb.Helper()
	if err := scale.WriteFile(s.path, s.o); err != nil {
		tb.Fatal(err)
	}
	s.o.Variant++
}

// reload is the reloader's work for the edited file: the Loader's load,
// Same, the publish.
func (s *scaleServe) reload(tb testing.TB) {
	tb.Helper()
	next, err := s.ld.Load()
	if err != nil {
		tb.Fatal(err)
	}
	if s.cur.Same(next) {
		tb.Fatal("the edit went unnoticed")
	}
	if err := s.pub.PublishConfig(next); err != nil {
		tb.Fatal(err)
	}
	s.cur = next
}

// BenchmarkReload is serve's reload of a one-service edit, whole: the
// Loader's load (which reuses the running configuration's unchanged
// services), the unchanged-file check and the publish, as the reloader
// runs them. Writing the edited file is not measured.
//
//	go test -run '^$' -bench Reload -benchmem -benchtime 20x ./control
func BenchmarkReload(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			s := newScaleServe(b, scale.Options{Services: n, Check: scale.CheckSharedTCP})
			defer s.pub.Stop()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s.edit(b)
				b.StartTimer()
				s.reload(b)
			}
		})
	}
}
