package control

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/geo"
)

// TestReloadSurvivesGeoFileMutations: whatever is done to the geo
// database file under a running server (truncated, rewritten in place
// with garbage, deleted, renamed over), the server goes on locating
// clients from its last good copy, and a broken file is a rejected
// reload whose log names it (issue 11: a memory-mapped file rewritten in
// place killed the server with SIGBUS on the next geo query).
func TestReloadSurvivesGeoFileMutations(t *testing.T) {
	path := fixtureDir(t)
	dir := filepath.Dir(path)
	db := filepath.Join(dir, "geo.mmdb")
	good, err := os.ReadFile("../testdata/demo/demo.mmdb")
	must(t, err)
	writeFile(t, db, string(good))
	b, err := os.ReadFile(path)
	must(t, err)
	writeFile(t, path, strings.Replace(string(b), "geo:\n  rules:", "geo:\n  database: geo.mmdb\n  rules:", 1))

	fs := serveFlags(t, "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	opts := config.Options{File: path, Flags: fs}
	l, err := config.Load(opts)
	must(t, err)
	logs := &lockedBuffer{}
	s, err := New(l, Options{Load: opts, Log: slog.New(slog.NewTextHandler(logs, nil))})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, make(chan os.Signal), "") }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eventually(t, "ready", func() bool { ok, _ := s.Ready(); return ok })

	// Each check locates addresses not asked before, so that the
	// database's caches cannot answer for its tree (a truncated mapping
	// faults only in a walk), and compares with a copy of the good file.
	refDB, err := geo.OpenBytes(good)
	must(t, err)
	ref, err := geo.NewLocator(refDB, nil)
	must(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	locates := func(what string) geo.Match {
		t.Helper()
		loc := s.store.Load().Locator
		for range 2000 {
			// 11.0.0.0-126.255.255.255: outside the fixture's geo rules
			a := netip.AddrFrom4([4]byte{byte(11 + rng.IntN(116)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			if got, want := loc.Locate(a), ref.Locate(a); got.Location != want.Location {
				t.Fatalf("%s: Locate(%s) = %+v, the good file says %+v", what, a, got, want)
			}
		}
		// 8.8.8.8 is in the US in the demo and the country databases alike.
		m := loc.Locate(netip.MustParseAddr("8.8.8.8"))
		if m.Source != geo.SourceDB || m.Location.Country != "US" {
			t.Errorf("%s: Locate(8.8.8.8) = %+v, want a database hit in the US", what, m)
		}
		return m
	}
	generation := func() uint64 { return s.store.Load().Generation() }
	rejected := 0
	wantRejected := func(what, reason string) {
		t.Helper()
		rejected++
		eventually(t, what+": a rejected reload", func() bool {
			return strings.Count(logs.String(), `msg="config reload rejected"`) >= rejected
		})
		if !strings.Contains(logs.String(), reason) {
			t.Errorf("%s: the rejection does not say %q:\n%s", what, reason, logs.String())
		}
		locates(what)
	}
	before := locates("start").Location // the demo database's point (Mountain View)
	gen := generation()

	must(t, os.Truncate(db, 0))
	wantRejected("truncated in place", db+": file is empty")

	f, err := os.OpenFile(db, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	_, err = f.WriteString(strings.Repeat("not a database ", 1000))
	must(t, err)
	must(t, f.Close())
	wantRejected("garbage written in place", "geo.database: open "+db)

	must(t, os.Remove(db))
	wantRejected("deleted", "geo.database")
	if generation() != gen {
		t.Errorf("generation %d after rejected reloads, want %d", generation(), gen)
	}

	// A good file renamed over it (another database, which puts 8.8.8.8
	// at the middle of the US) is served.
	country, err := os.ReadFile("../testdata/geo/test-country.mmdb")
	must(t, err)
	writeFile(t, db+".new", string(country))
	must(t, os.Rename(db+".new", db))
	eventually(t, "a reload with the new database", func() bool { return generation() > gen })
	if after := s.store.Load().Locator.Locate(netip.MustParseAddr("8.8.8.8")).Location; after == before {
		t.Errorf("8.8.8.8 still at %+v after another database was renamed over the file", after)
	}
}
