package geo

import (
	"errors"
	"sync"
)

// places are a database's records as places, for Compile: every distinct
// record is decoded once per DB, however many decisions compile over it
// (on a database of GeoIP2 City's size that is most of a compile's time
// and nearly all of its garbage: some 800,000 records).
type places struct {
	// byValue maps a search-tree record that points into the data section
	// to its place: an index into locs, 0 for a record that places nothing.
	byValue map[uint32]int32
	locs    []Location
}

// placeIndex returns db's places, building them on first use.
func (db *DB) placeIndex() (*places, error) {
	pl := db.pl
	pl.once.Do(func() { pl.places, pl.err = buildPlaces(db) })
	return pl.places, pl.err
}

func buildPlaces(db *DB) (*places, error) {
	st := db.tree
	p := &places{byValue: map[uint32]int32{}, locs: []Location{{}}}
	ids := map[Location]int32{{}: 0}
	var visitedV4 bool
	var err error
	var visit func(v uint32, depth int)
	visit = func(v uint32, depth int) {
		switch {
		case err != nil:
		case st.isNode(v):
			if v == st.ipv4 && st.ipv6 {
				// The IPv4 space and the database's aliases of it.
				if visitedV4 {
					return
				}
				visitedV4 = true
			}
			if depth == 128 {
				err = errors.New("the search tree goes deeper than 128 bits")
				return
			}
			l, r := st.children(v)
			visit(l, depth+1)
			visit(r, depth+1)
		case v == st.nodeCount:
		default:
			if _, seen := p.byValue[v]; seen {
				return
			}
			off, ok := st.dataOffset(v)
			if !ok {
				err = errors.New("the search tree points into the data section separator")
				return
			}
			var id int32
			if loc, ok := db.decode(off); ok {
				if id, ok = ids[loc]; !ok {
					id = int32(len(p.locs))
					ids[loc] = id
					p.locs = append(p.locs, loc)
				}
			}
			p.byValue[v] = id
		}
	}
	visit(0, 0)
	return p, err
}

// placesState is what placeIndex fills, once per DB.
type placesState struct {
	once   sync.Once
	places *places
	err    error
}
