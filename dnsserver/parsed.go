package dnsserver

import (
	"slices"
	"sync"

	"github.com/miekg/dns"
)

// parsed is the one cache of parsed static records, by canonical zone
// name: whoever parses a zone's records remembers them here (the config
// loader's LoadZoneFile and CheckZone, the compiler on a miss), so a zone
// is parsed once per load and a snapshot that keeps a zone's records
// (most do) does not parse them again. An entry is used only for equal
// record strings. Each compiler build keeps only the zones it serves, so
// the cache holds the served zones plus those of loads since the last
// build (a check-config run, a rejected reload), never more.
var parsed struct {
	mu    sync.Mutex
	zones map[string]parsedZone
}

type parsedZone struct {
	records []string
	rrs     []dns.RR
}

// rememberParsed keeps the RRs of records in zone name.
func rememberParsed(name string, records []string, rrs []dns.RR) {
	parsed.mu.Lock()
	defer parsed.mu.Unlock()
	if parsed.zones == nil {
		parsed.zones = map[string]parsedZone{}
	}
	parsed.zones[name] = parsedZone{records: records, rrs: rrs}
}

// parsedBefore returns the RRs of records when they were parsed and
// checked before (equal strings), else false.
func parsedBefore(name string, records []string) ([]dns.RR, bool) {
	parsed.mu.Lock()
	defer parsed.mu.Unlock()
	p, ok := parsed.zones[name]
	if !ok || !slices.Equal(p.records, records) {
		return nil, false
	}
	return p.rrs, true
}

// keepParsed forgets every zone not in names.
func keepParsed(names map[string]bool) {
	parsed.mu.Lock()
	defer parsed.mu.Unlock()
	for name := range parsed.zones {
		if !names[name] {
			delete(parsed.zones, name)
		}
	}
}
