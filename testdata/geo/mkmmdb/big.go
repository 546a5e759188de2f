package main

// Large synthetic databases for benchmarks (-size kit|real -o FILE). They
// are far too big to commit; the benchmark harness regenerates them. This
// file holds what both sizes share: the writer, the record layout and the
// record cache. kit.go and real.go decide which networks go where.

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// minRealNodes is the search-tree size -size real must reach: real
// GeoIP2-City files have 5M to 7M nodes, and the point of the file is to
// make lookups and compilers walk a tree of that size.
const minRealNodes = 5_000_000

// location is one city of a benchmark database.
type location struct {
	name     string
	country  int // index into world
	lat, lon float64
	tz       string
}

// bigDB is a database being built: the writer plus the record cache.
type bigDB struct {
	w        *mmdbwriter.Tree
	cities   []location
	records  map[recKey]mmdbtype.Map
	cityMaps []mmdbtype.Map // city sub-record per city, shared by its records
	ccMaps   []mmdbtype.Map // country sub-record per world index
	contMaps map[string]mmdbtype.Map
	networks int
}

// recKey names one distinct record. city < 0 is a record without city and
// location (only continent and country); country < 0 means the city's.
type recKey struct {
	city       int32
	country    int16
	registered int16 // registered_country; < 0: the same as country
	radius     uint16
}

func newBigDB(size string, seed uint64) (*bigDB, error) {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:   buildTime.Unix(),
		DatabaseType: "GeoIP2-City",
		Description: map[string]string{
			"en": fmt.Sprintf("Meridian synthetic benchmark database (-size %s -seed %d), not real GeoIP data", size, seed),
		},
		// The loopback networks of the bench kit (127.0.x.0/24) must be
		// insertable; every other reserved network is left out by the
		// generators themselves.
		IncludeReservedNetworks: true,
		IPVersion:               6,
		Languages:               []string{"en"},
		// 24-bit records address at most 16M nodes plus data: too few
		// for a real-size file. MaxMind's City files use 28.
		RecordSize: 28,
	})
	if err != nil {
		return nil, err
	}
	db := &bigDB{w: w, records: map[recKey]mmdbtype.Map{}, contMaps: map[string]mmdbtype.Map{}}
	for i, c := range world {
		db.ccMaps = append(db.ccMaps, mmdbtype.Map{
			"geoname_id": mmdbtype.Uint32(9_000_000 + i),
			"iso_code":   mmdbtype.String(c.cc),
			"names":      names(c.name),
		})
	}
	for code, info := range continentInfo {
		db.contMaps[code] = mmdbtype.Map{
			"code":       mmdbtype.String(code),
			"geoname_id": mmdbtype.Uint32(info.id),
			"names":      names(info.name),
		}
	}
	return db, nil
}

// addCity registers a location and returns its index.
func (db *bigDB) addCity(c location) int32 {
	db.cities = append(db.cities, c)
	db.cityMaps = append(db.cityMaps, mmdbtype.Map{
		"geoname_id": mmdbtype.Uint32(1_000_000 + len(db.cities)),
		"names":      names(c.name),
	})
	return int32(len(db.cities) - 1)
}

// record returns the one mmdbtype value for k, so equal records are one Go
// value (cheap to build and to compare when mmdbwriter merges siblings).
func (db *bigDB) record(k recKey) mmdbtype.Map {
	if rec, ok := db.records[k]; ok {
		return rec
	}
	cc := int(k.country)
	if k.city >= 0 && cc < 0 {
		cc = db.cities[k.city].country
	}
	reg := cc
	if k.registered >= 0 {
		reg = int(k.registered)
	}
	rec := mmdbtype.Map{
		"continent":          db.contMaps[world[cc].continent],
		"country":            db.ccMaps[cc],
		"registered_country": db.ccMaps[reg],
	}
	if k.city >= 0 {
		c := db.cities[k.city]
		rec["city"] = db.cityMaps[k.city]
		rec["location"] = mmdbtype.Map{
			"accuracy_radius": mmdbtype.Uint16(k.radius),
			// Four decimals, as MaxMind publishes them.
			"latitude":  mmdbtype.Float64(math.Round(c.lat*1e4) / 1e4),
			"longitude": mmdbtype.Float64(math.Round(c.lon*1e4) / 1e4),
			"time_zone": mmdbtype.String(c.tz),
		}
	}
	db.records[k] = rec
	return rec
}

// insert adds one network with the record k.
func (db *bigDB) insert(p netip.Prefix, k recKey) error {
	n := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	if err := db.w.Insert(n, db.record(k)); err != nil {
		return fmt.Errorf("insert %v: %w", p, err)
	}
	db.networks++
	return nil
}

// writeBig builds the database of the given size and writes it to path
// (through a temporary file, so a reader never sees half a file).
func writeBig(size string, seed uint64, path string) error {
	gen := map[string]func(*bigDB, *rand.Rand) error{"kit": genKit, "real": genReal}[size]
	if gen == nil {
		return fmt.Errorf("-size %q: want kit or real", size)
	}
	start := time.Now()
	db, err := newBigDB(size, seed)
	if err != nil {
		return err
	}
	// PCG with a fixed second word: the stream is a function of -seed only.
	if err := gen(db, rand.New(rand.NewPCG(seed, 0x6d6d6462))); err != nil {
		return err
	}
	inserted := time.Since(start)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := db.w.WriteTo(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d networks inserted, %d distinct records, %d cities, %d search-tree nodes, %d bytes (insert %v, write %v)\n",
		path, db.networks, len(db.records), len(db.cities), r.Metadata.NodeCount, st.Size(),
		inserted.Round(time.Millisecond), (time.Since(start) - inserted).Round(time.Millisecond))
	if size == "real" && r.Metadata.NodeCount < minRealNodes {
		return fmt.Errorf("%s has %d search-tree nodes, want at least %d: the real model is too small", path, r.Metadata.NodeCount, minRealNodes)
	}
	return nil
}

// picker draws an index with probability proportional to its weight.
type picker struct{ cum []float64 }

func newPicker(weights []float64) picker {
	p := picker{cum: make([]float64, len(weights))}
	sum := 0.0
	for i, w := range weights {
		sum += w
		p.cum[i] = sum
	}
	return p
}

func (p picker) pick(r *rand.Rand) int {
	x := r.Float64() * p.cum[len(p.cum)-1]
	return sort.SearchFloat64s(p.cum, x)
}

// lengths is a distribution of prefix lengths: weight per length.
type lengths map[int]float64

// lengthPicker turns a length distribution into a picker over a sorted
// list, so draws do not depend on map iteration order.
type lengthPicker struct {
	lens []int
	p    picker
}

func newLengthPicker(d lengths) lengthPicker {
	var lp lengthPicker
	for l := range d {
		lp.lens = append(lp.lens, l)
	}
	sort.Ints(lp.lens)
	w := make([]float64, len(lp.lens))
	for i, l := range lp.lens {
		w[i] = d[l]
	}
	lp.p = newPicker(w)
	return lp
}

func (lp lengthPicker) pick(r *rand.Rand) int { return lp.lens[lp.p.pick(r)] }
