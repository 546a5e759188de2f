package config

import (
	"fmt"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
)

// loadZoneFiles reads each zone's zone_file into it (SOA, NS, records)
// before defaults and validation, so a zone may be defined by its file
// alone. It returns the zones whose file failed, which checkZones skips.
func loadZoneFiles(st *gslb.State, p *problems) map[int]bool {
	failed := map[int]bool{}
	for i := range st.Zones {
		if st.Zones[i].ZoneFile == "" {
			continue
		}
		if !p.regularFile(fmt.Sprintf("zones[%d].zone_file", i), st.Zones[i].ZoneFile) {
			failed[i] = true
			continue
		}
		if p.adopt(fmt.Sprintf("zones[%d].", i), dnsserver.LoadZoneFile(&st.Zones[i]), zoneKeys...) {
			failed[i] = true
			continue
		}
		// Its records are in the zone now. The path means nothing at
		// another site (the State travels to followers), and CheckZone
		// need not read the file a second time: LoadZoneFile parsed the
		// whole zone, and dnsserver keeps that parse for the server.
		st.Zones[i].ZoneFile = ""
	}
	return failed
}

// zoneKeys are the keys under zones[i] that dnsserver's errors start with.
var zoneKeys = []string{"records", "zone_file", "soa", "nameservers", "name", "ns_ttl"}

// checkZones parses static records the way the DNS server will, once:
// the server takes this parse (or LoadZoneFile's) rather than parse the
// same records again (dnsserver/parsed.go). A zone whose file did not load or whose name is already wrong is skipped: its
// records would only repeat that error.
func checkZones(st *gslb.State, skip map[int]bool, p *problems) {
	for i := range st.Zones {
		prefix := fmt.Sprintf("zones[%d].", i)
		if skip[i] || p.has(prefix+"name") {
			continue
		}
		p.adopt(prefix, dnsserver.CheckZone(&st.Zones[i]), zoneKeys...)
	}
}

// geoFile is a geo database as a load opened it: the file, the version of
// it that was read (its stamp) and the DB read from it. A Loader hands the
// last good load's to the next load (decoding.geo), which takes the DB
// instead of reading the file again when the file has not changed.
type geoFile struct {
	path  string
	stamp fileStamp
	db    *geo.DB
}

// openGeo opens the geo database and builds the locator. Rules with
// errors were already reported; the locator is only built from a clean
// list so that its own errors' indexes match the file.
//
// The database is read into memory (geo.Open), tens of MB for a real City
// file, so a load reuses prev's DB when the configured file is prev's and
// its stamp (stampOf) is unchanged: a reload for an unrelated edit then
// neither reads the file nor leaves a copy of it for the garbage
// collector. Sharing is safe because nothing closes a DB: a copy in
// memory has nothing to release, and the collector frees it once no
// configuration or snapshot refers to it.
//
// The file is stat'ed before it is opened: if it is replaced in between,
// the stamp is the older one and the next reload sees the difference.
func openGeo(g GeoConfig, rules []geo.Rule, prev geoFile, p *problems) (*geo.DB, fileStamp, *geo.Locator) {
	var db *geo.DB
	var stamp fileStamp
	if g.CompiledMaxMB < 0 {
		p.add("geo.compiled_max_mb", "%d: must be 0 (the default, %d) or more", g.CompiledMaxMB, DefaultCompiledMaxMB)
	}
	if g.Database != "" {
		if fi, ok := p.existingFile("geo.database", g.Database); ok {
			stamp = stampOf(fi)
			if prev.db != nil && prev.path == g.Database && prev.stamp == stamp {
				db = prev.db
			} else {
				var err error
				if db, err = geo.Open(g.Database); err != nil {
					p.add("geo.database", "%s", trimPackage(err.Error())) // names the file
					db = nil
				}
			}
		}
	}
	if len(rules) != len(g.Rules) || (db == nil && len(rules) == 0) {
		return db, stamp, nil
	}
	loc, err := geo.NewLocator(db, rules)
	if p.adopt("geo.", err, "rules", "database") {
		return db, stamp, nil
	}
	return db, stamp, loc
}
