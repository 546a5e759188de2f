package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo"
)

// geoFixture is good.yaml with geo.database set to a copy of the demo
// database beside it; it returns the config's and the database's paths.
func geoFixture(t *testing.T) (cfg, db string) {
	t.Helper()
	cfg = fixtureDir(t, replace(t, "geo:\n  rules:", "geo:\n  database: geo.mmdb\n  rules:"))
	db = filepath.Join(filepath.Dir(cfg), "geo.mmdb")
	copyFile(t, "../testdata/demo/demo.mmdb", db)
	return cfg, db
}

// editConfig applies an edit to the config file at path, in place.
func editConfig(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	writeFile(t, path, replace(t, old, new)(string(b)))
}

// wantLocates checks that l's locator still places 8.8.8.8 from the
// database (the demo and country fixtures both have it in the US).
func wantLocates(t *testing.T, what string, l *Loaded) {
	t.Helper()
	m := l.Locator.Locate(netip.MustParseAddr("8.8.8.8"))
	if m.Source != geo.SourceDB || m.Location.Country != "US" {
		t.Errorf("%s: Locate(8.8.8.8) = %+v, want a database hit in the US", what, m)
	}
}

func dbType(l *Loaded) string {
	typ, _, _ := l.db.Metadata()
	return typ
}

// TestLoaderReusesGeoDB: a Loader's reload shares the running load's geo
// database while the file is unchanged (reading a real database again
// would cost tens of MB per reload), opens it anew once the file's stamp
// changes.
func TestLoaderReusesGeoDB(t *testing.T) {
	cfg, dbPath := geoFixture(t)
	ld := NewLoader(Options{File: cfg}, nil)
	first, err := ld.Load()
	must(t, err)
	if first.db == nil {
		t.Fatal("database not opened")
	}
	wantLocates(t, "first load", first)

	// An unrelated edit: the same database, not read again.
	editConfig(t, cfg, "ttl: 30", "ttl: 31")
	second, err := ld.Load()
	must(t, err)
	if second.db != first.db {
		t.Error("a reload with the database file unchanged opened it again")
	}
	if first.Same(second) {
		t.Error("Same misses the edit")
	}
	wantLocates(t, "second load", second)

	// Nothing changed at all: still shared, and Same.
	third, err := ld.Load()
	must(t, err)
	if third.db != second.db || !second.Same(third) {
		t.Errorf("an unchanged reload: shared db %v, Same %v; want both", third.db == second.db, second.Same(third))
	}
	wantLocates(t, "second load, after the third", second)

	// A new modification time is a new version of the file: read again.
	later := time.Now().Add(time.Hour)
	must(t, os.Chtimes(dbPath, later, later))
	fourth, err := ld.Load()
	must(t, err)
	if fourth.db == second.db {
		t.Error("a reload after the database file's mtime changed reused the old DB")
	}
	if second.Same(fourth) {
		t.Error("Same misses the database file's change")
	}
	wantLocates(t, "fourth load", fourth)

	// New content, written in place: the new database is loaded.
	copyFile(t, "../testdata/geo/test-country.mmdb", dbPath)
	fifth, err := ld.Load()
	must(t, err)
	if fifth.db == fourth.db || dbType(fifth) != "GeoLite2-Country" || dbType(fourth) != "GeoIP2-City" {
		t.Errorf("after new content: shared %v, types %q then %q; want a new GeoLite2-Country DB",
			fifth.db == fourth.db, dbType(fourth), dbType(fifth))
	}
	wantLocates(t, "fifth load", fifth)
	wantLocates(t, "fourth load, still running", fourth)

	// A file caught half written is refused, naming it; the running load
	// answers on from its copy, and the next good load reads the file.
	must(t, os.Truncate(dbPath, 0))
	if _, err := ld.Load(); err == nil || !strings.Contains(err.Error(), "geo.database: open "+dbPath+": file is empty") {
		t.Errorf("load of an empty database = %v, want a geo.database error naming %s", err, dbPath)
	}
	wantLocates(t, "fifth load, file truncated", fifth)
	copyFile(t, "../testdata/demo/demo.mmdb", dbPath)
	sixth, err := ld.Load()
	must(t, err)
	if sixth.db == fifth.db || dbType(sixth) != "GeoIP2-City" {
		t.Errorf("after the file was restored: shared %v, type %q; want a new GeoIP2-City DB", sixth.db == fifth.db, dbType(sixth))
	}
}

// TestLoaderReusesRunningGeoDB: serve's first load, handed to NewLoader,
// lends its database to the first reload; a database at another path is
// opened even when its stamp is the same.
func TestLoaderReusesRunningGeoDB(t *testing.T) {
	cfg, dbPath := geoFixture(t)
	running := mustLoad(t, cfg)
	ld := NewLoader(Options{File: cfg}, running)
	next, err := ld.Load()
	must(t, err)
	if next.db != running.db {
		t.Error("the first reload did not reuse the running configuration's database")
	}

	// Another file, same size and modification time.
	other := filepath.Join(filepath.Dir(cfg), "other.mmdb")
	copyFile(t, dbPath, other)
	fi, err := os.Stat(dbPath)
	must(t, err)
	must(t, os.Chtimes(other, fi.ModTime(), fi.ModTime()))
	editConfig(t, cfg, "database: geo.mmdb", "database: other.mmdb")
	moved, err := ld.Load()
	must(t, err)
	if moved.db == next.db {
		t.Error("a reload with geo.database at another path reused the old path's DB")
	}
	wantLocates(t, "database moved", moved)
}

// TestLoadOpensGeoDBFresh: Load, without a Loader, shares nothing.
func TestLoadOpensGeoDBFresh(t *testing.T) {
	cfg, _ := geoFixture(t)
	a, b := mustLoad(t, cfg), mustLoad(t, cfg)
	if a.db == nil || a.db == b.db {
		t.Errorf("two Loads: db %p and %p, want two databases", a.db, b.db)
	}
	if !a.Same(b) {
		t.Error("two Loads of the same files are not Same")
	}
}

// TestLoaderNoticesACopyWithTheSameTimes: a database renamed over the old
// one with the same size and modification time (cp -p, rsync -t) is a
// new file: the next load opens it rather than keep the old copy.
func TestLoaderNoticesACopyWithTheSameTimes(t *testing.T) {
	cfg, dbPath := geoFixture(t)
	ld := NewLoader(Options{File: cfg}, nil)
	first, err := ld.Load()
	must(t, err)
	fi, err := os.Stat(dbPath)
	must(t, err)
	tmp := dbPath + ".new"
	copyFile(t, dbPath, tmp)
	must(t, os.Chtimes(tmp, fi.ModTime(), fi.ModTime()))
	must(t, os.Rename(tmp, dbPath))
	next, err := ld.Load()
	must(t, err)
	if next.db == first.db {
		t.Error("a database renamed over the old one with the same size and times was not opened")
	}
	if first.Same(next) {
		t.Error("Same missed the new database file")
	}
	wantLocates(t, "after the copy", next)
}
