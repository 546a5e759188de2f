package geo

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DB is an open MaxMind-format database with the GeoIP2 City or Country
// schema (MaxMind GeoIP2/GeoLite2 City, Country, Enterprise, and compatible
// files such as DB-IP's lite databases).
//
// The whole file is held in memory (see Open), so a DB depends on nothing
// outside the Go heap: a DB that is simply dropped is freed by the garbage
// collector, which is the easy way out when reloading under live traffic.
//
// Lookups are safe for concurrent use. Close must not run while lookups may
// still use the DB.
type DB struct {
	r     *maxminddb.Reader
	tree  *searchTree // the same bytes, read by Compile
	name  string      // file name for errors, or "<bytes>"
	cache recordCache
	nets  netCache
	pl    *placesState // for Compile, built on first use
}

// Open reads the mmdb file at path into memory and opens that copy. It
// does not memory-map the file: a mapped file that someone rewrites in
// place (cp new.mmdb over it truncates the same inode) turns the next
// lookup into a SIGBUS that kills the whole process, which no recover can
// catch. A copy in the heap is unaffected by anything done to the file
// afterwards: truncated, rewritten, renamed over or deleted, the DB goes on
// answering from what it read. A file caught half written, truncated or
// holding anything but a database is an error that names it.
func Open(path string) (*DB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The *PathError names the file and the operation ("read" for a
		// directory); keep one name, ours.
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	if len(b) == 0 {
		// Also what an in-place rewrite looks like just after it truncated.
		return nil, fmt.Errorf("geo: open %s: file is empty", path)
	}
	return openBytes(b, path)
}

// OpenBytes opens a database held in memory. The DB keeps b: do not modify
// it afterwards.
func OpenBytes(b []byte) (*DB, error) {
	return openBytes(b, "<bytes>")
}

// openBytes opens the database in b, naming it name in errors. A prefix of
// a database (a copy caught half way) lacks the metadata at its end, and
// maxminddb checks that the search tree fits before the data section, so
// both are refused here; lookups into the heap copy are bounds-checked.
func openBytes(b []byte, name string) (*DB, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", name, err)
	}
	db, err := newDB(r, name)
	if err != nil {
		return nil, err
	}
	md := r.Metadata
	if db.tree, err = newSearchTree(b, md.NodeCount, md.RecordSize, md.IPVersion); err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", name, err)
	}
	return db, nil
}

// newDB checks that the database can place addresses: its type must be one
// with the City/Country schema. ASN, ISP, Domain, Connection-Type and
// Anonymous-IP databases decode to nothing useful, so they are refused here
// rather than silently locating nobody.
func newDB(r *maxminddb.Reader, name string) (*DB, error) {
	md := r.Metadata
	t := strings.ToLower(md.DatabaseType)
	if !strings.Contains(t, "city") && !strings.Contains(t, "country") && !strings.Contains(t, "enterprise") {
		return nil, fmt.Errorf("geo: open %s: database type %q has no country or continent data; use a City or Country database",
			name, md.DatabaseType)
	}
	if md.IPVersion != 4 && md.IPVersion != 6 {
		return nil, fmt.Errorf("geo: open %s: unsupported ip_version %d", name, md.IPVersion)
	}
	// A type name is only a name: some third-party files call themselves
	// "country" but store flat strings. Decode one record to be sure, so
	// such a file is refused now instead of locating nobody later.
	for res := range r.Networks() {
		var rec record
		if err := res.Decode(&rec); err != nil {
			return nil, fmt.Errorf("geo: open %s: records do not follow the GeoIP2 City/Country layout (%s): %w",
				name, md.DatabaseType, err)
		}
		break
	}
	return &DB{r: r, name: name, cache: newRecordCache(md.NodeCount), nets: newNetCache(), pl: &placesState{}}, nil
}

// Close drops the DB's reference to the database's bytes, which the garbage
// collector then frees once nothing else holds them: there is no file
// descriptor or mapping to release. A closed DB locates nobody. Calling it
// more than once is harmless; see DB for when it is safe.
func (db *DB) Close() error {
	db.nets.clear() // a closed database locates nobody, cached or not
	if err := db.r.Close(); err != nil {
		return fmt.Errorf("geo: close %s: %w", db.name, err)
	}
	return nil
}

// Metadata returns the database type (such as "GeoIP2-City"), when it was
// built, and its IP version (4: IPv4 only, 6: both).
func (db *DB) Metadata() (dbType string, built time.Time, ipVersion uint) {
	md := db.r.Metadata
	return md.DatabaseType, md.BuildTime().UTC(), md.IPVersion
}

// locate looks a up in the database. It returns the network that decided
// (Masked, IPv4 for an IPv4 a) and, when the record places the address, its
// Location. a must be valid, unmapped and without zone.
func (db *DB) locate(a netip.Addr) (Location, netip.Prefix, bool) {
	if a.Is4() {
		if bits, off, found, ok := db.nets.get(a); ok {
			p, _ := a.Prefix(bits)
			if !found {
				return Location{}, p, false
			}
			e := db.record(off)
			return e.loc, p, e.ok
		}
	}
	res := db.r.Lookup(a)
	p := res.Prefix()
	if !p.IsValid() || p.Addr().Is4() != a.Is4() {
		// Prefix is only family-correct when the lookup got as far as the
		// IPv4 subtree. When it did not (an IPv6 DB with no IPv4 data, a
		// closed DB, a lookup error) no network finer than "all of the
		// family" decided, so say that.
		p = netip.PrefixFrom(a, 0).Masked()
	}
	if !res.Found() {
		if a.Is4() {
			db.nets.put(a, p.Bits(), 0, false)
		}
		return Location{}, p, false
	}
	off := res.Offset()
	if a.Is4() {
		db.nets.put(a, p.Bits(), off, true)
	}
	e := db.record(off)
	return e.loc, p, e.ok
}

// record returns the decoded record at off, from the cache when it can.
func (db *DB) record(off uintptr) *cacheEntry {
	slot := db.cache.slot(off)
	e := slot.Load()
	if e == nil || e.off != off {
		// First sight of this record (or it lost its slot): decode once and
		// publish. Two goroutines may race to decode the same record; both
		// get the same answer and one store wins.
		e = &cacheEntry{off: off}
		e.loc, e.ok = db.decode(off)
		slot.Store(e)
	}
	return e
}

// record is the part of a GeoIP2 City/Country record that Meridian uses,
// decoded by field name. It is a subset of geoip2-golang's geoip2.City (the
// project's GeoIP model; TestRecordMatchesGeoIP2 keeps the two in step):
// decoding just these fields measured about 2.5 times faster than the whole
// geoip2.City, with 80 instead of about 1 KB allocated (BenchmarkDecode).
// That only matters when a record is first seen, but a cold cache over a
// full City database sees a lot of them.
type record struct {
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Location struct {
		// Pointers tell "absent" from 0, a real latitude and longitude.
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// decode reads the record at off. A record that cannot be decoded, or says
// nothing about a place, reports ok false: the caller treats the address
// as unlocated, and the cache keeps that verdict so it is not retried.
func (db *DB) decode(off uintptr) (Location, bool) {
	var rec record
	if err := db.r.LookupOffset(off).Decode(&rec); err != nil {
		return Location{}, false
	}
	return recordLocation(&rec)
}

// recordLocation turns a decoded record into a Location. The country falls
// back to the registered country (the network's owner), which MaxMind fills
// for anycast and satellite networks that have no physical country. When the
// record has no coordinates, as in Country databases, they come from
// countryPoint so the nearest-site strategy still works.
func recordLocation(rec *record) (Location, bool) {
	var l Location
	if lat, lon := rec.Location.Latitude, rec.Location.Longitude; lat != nil && lon != nil &&
		*lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180 {
		l.Lat, l.Lon, l.HasCoords = *lat, *lon, true
	}
	cc := strings.ToUpper(rec.Country.ISOCode)
	if !isAlpha2(cc) {
		cc = strings.ToUpper(rec.RegisteredCountry.ISOCode)
	}
	cont := strings.ToUpper(rec.Continent.Code)
	if isAlpha2(cc) {
		if lat, lon, c, ok := countryPoint(cc); ok {
			if !l.HasCoords {
				l.Lat, l.Lon, l.HasCoords = lat, lon, true
			}
			if cont == "" {
				cont = c
			}
		}
		l.Country = cc
	}
	if CheckContinent(cont) == nil {
		l.Continent = cont
	}
	return l, l != Location{}
}

// recordCache maps a record's data-section offset to its decoded Location.
// It is direct-mapped: a fixed power-of-two array of atomic pointers to
// immutable entries, so readers take no lock and allocate nothing. A
// collision just replaces the slot; the loser is decoded again when next
// seen. Offsets are stable for the life of a DB, which owns its cache.
type recordCache struct {
	slots []atomic.Pointer[cacheEntry]
	shift uint // 64 - log2(len(slots))
}

type cacheEntry struct {
	off uintptr
	loc Location
	ok  bool
}

// Cache size bounds. A database has at most about NodeCount distinct
// records, so small (test) databases get small caches; a full City database
// (millions of nodes, a few hundred thousand records) gets 64Ki slots,
// 512 KiB of pointers, enough for the client networks one server sees.
const (
	minCacheSlots = 64
	maxCacheSlots = 1 << 16
)

func newRecordCache(nodeCount uint) recordCache {
	n := uint(minCacheSlots)
	for n < nodeCount && n < maxCacheSlots {
		n <<= 1
	}
	return recordCache{
		slots: make([]atomic.Pointer[cacheEntry], n),
		shift: uint(64 - bits.TrailingZeros(n)),
	}
}

// slot returns off's slot. Record offsets cluster and share low bits, so
// they are spread with a Fibonacci (multiplicative) hash, top bits kept.
func (c *recordCache) slot(off uintptr) *atomic.Pointer[cacheEntry] {
	return &c.slots[(uint64(off)*0x9E3779B97F4A7C15)>>c.shift]
}
