// Package geodb reads the GeoIP2-City-schema database the geo workload uses:
// which continent an address is on, the database network that holds it, and
// random IPv4 /24s that the database locates.
package geodb

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DB is an open database.
type DB struct {
	r    *maxminddb.Reader
	path string
}

// Open opens an mmdb file.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo database %s: %w", path, err)
	}
	return &DB{r: r, path: path}, nil
}

// Close releases the file.
func (d *DB) Close() error { return d.r.Close() }

// Type is the database_type of the metadata (GeoIP2-City for the workloads).
func (d *DB) Type() string { return d.r.Metadata.DatabaseType }

// Nodes is the number of nodes of the search tree.
func (d *DB) Nodes() uint { return d.r.Metadata.NodeCount }

// Place is what the database says about one address.
type Place struct {
	Found     bool         // the address is in a network with a record
	Continent string       // continent code, "" if the record has none
	Network   netip.Prefix // the database network holding the address (when Found)
}

type record struct {
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
}

// Lookup returns the place of a.
func (d *DB) Lookup(a netip.Addr) (Place, error) {
	res := d.r.Lookup(a)
	if err := res.Err(); err != nil {
		return Place{}, err
	}
	if !res.Found() {
		return Place{}, nil
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		return Place{}, err
	}
	return Place{Found: true, Continent: rec.Continent.Code, Network: res.Prefix()}, nil
}

// Public reports whether an IPv4 address is in ordinary unicast space the
// workloads draw clients from: not 0/8, 10/8, 127/8, multicast or above,
// and not the documentation and site addresses the answers use.
func Public(a netip.Addr) bool {
	b := a.As4()
	switch {
	case b[0] == 0, b[0] == 10, b[0] == 127, b[0] >= 224:
		return false
	case b[0] == 192 && b[1] == 0 && b[2] == 2, b[0] == 198 && b[1] == 51 && b[2] == 100, b[0] == 203 && b[1] == 0 && b[2] == 113:
		return false
	}
	return true
}

// Random24 is a random public IPv4 /24.
func Random24(rng *rand.Rand) netip.Prefix {
	for {
		v := rng.Uint32() &^ 0xff
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0})
		if Public(a) {
			return netip.PrefixFrom(a, 24)
		}
	}
}

// Located draws n distinct random public IPv4 /24s whose address the
// database locates (a network with a record that names a continent).
// It gives up after 200 draws per wanted /24 and returns what it has.
func (d *DB) Located(rng *rand.Rand, n int) ([]netip.Prefix, error) {
	seen := make(map[netip.Prefix]bool, n)
	var out []netip.Prefix
	for tries := 0; len(out) < n && tries < 200*n; tries++ {
		p := Random24(rng)
		if seen[p] {
			continue
		}
		pl, err := d.Lookup(p.Addr())
		if err != nil {
			return nil, err
		}
		if !pl.Found || pl.Continent == "" {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	if len(out) < n {
		return out, fmt.Errorf("%s: found only %d located /24s in %d draws", d.path, len(out), 200*n)
	}
	return out, nil
}
