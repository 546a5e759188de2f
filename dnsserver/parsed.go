package dnsserver

import (
	"slices"
	"sync"

	"github.com/miekg/dns"
)

// Zone data is parsed once per load: the config loader's LoadZoneFile and
// CheckZone parse a zone's records and remember the result here, and the
// server compiling that load's snapshot takes it instead of parsing the
// same strings again. One entry per zone name (the last load's), so
// loads that are never served (check-config, a rejected reload) cost no
// more memory than the zones themselves.
var lastParsed struct {
	mu    sync.Mutex
	zones map[string]parsedZone
}

// rememberParsed keeps the RRs of records in zone name.
func rememberParsed(name string, records []string, rrs []dns.RR) {
	lastParsed.mu.Lock()
	defer lastParsed.mu.Unlock()
	if lastParsed.zones == nil {
		lastParsed.zones = map[string]parsedZone{}
	}
	lastParsed.zones[name] = parsedZone{records: records, rrs: rrs}
}

// parsedBefore returns the RRs of records when they were parsed and
// checked before (equal strings), else false.
func parsedBefore(name string, records []string) ([]dns.RR, bool) {
	lastParsed.mu.Lock()
	defer lastParsed.mu.Unlock()
	p, ok := lastParsed.zones[name]
	if !ok || !slices.Equal(p.records, records) {
		return nil, false
	}
	return p.rrs, true
}
