package main

// -stats FILE: a small verifier for the benchmark databases (or any mmdb
// file): search-tree size, record size, networks per prefix length for
// IPv4 and IPv6, with and without data, distinct data records and file
// size. It reads the file with maxminddb-golang, the reader Meridian uses,
// so what it counts is what a lookup or a compiler would walk.

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

func printStats(out io.Writer, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	md := r.Metadata
	fmt.Fprintf(out, "file %s: %d bytes, database_type %s, ip_version %d\n", path, st.Size(), md.DatabaseType, md.IPVersion)
	fmt.Fprintf(out, "search tree: %d nodes, %d-bit records (%d bytes)\n", md.NodeCount, md.RecordSize, md.NodeCount*md.RecordSize/4)

	// Per family and prefix length: networks with data, without data.
	var data, empty [2][129]int
	records := map[uintptr]bool{}
	// IncludeNetworksWithoutData also yields the gaps, so the histogram
	// shows every leaf of the tree (the IPv4 aliases are visited once).
	for res := range r.Networks(maxminddb.IncludeNetworksWithoutData()) {
		if err := res.Err(); err != nil {
			return err
		}
		p := res.Prefix()
		fam := 1
		if p.Addr().Is4() {
			fam = 0
		}
		if res.Found() {
			data[fam][p.Bits()]++
			records[res.Offset()] = true
		} else {
			empty[fam][p.Bits()]++
		}
	}
	fmt.Fprintf(out, "distinct data records: %d\n", len(records))
	for fam, name := range []string{"IPv4", "IPv6"} {
		nd, ne := 0, 0
		for l := range 129 {
			nd += data[fam][l]
			ne += empty[fam][l]
		}
		fmt.Fprintf(out, "%s: %d networks with data, %d without\n", name, nd, ne)
		if nd+ne == 0 {
			continue
		}
		fmt.Fprintf(out, "  %-4s %10s %10s %6s\n", "len", "data", "no-data", "data%")
		for l := range 129 {
			if data[fam][l]+empty[fam][l] == 0 {
				continue
			}
			pct := 0.0
			if nd > 0 {
				pct = 100 * float64(data[fam][l]) / float64(nd)
			}
			fmt.Fprintf(out, "  /%-3d %10d %10d %5.1f%% %s\n", l, data[fam][l], empty[fam][l], pct, strings.Repeat("#", int(pct/2+0.5)))
		}
	}
	return nil
}
