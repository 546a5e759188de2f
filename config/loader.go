package config

import (
	"path/filepath"
	"reflect"
	"sync"

	"github.com/meridian-gslb/meridian/gslb"
)

// Loader loads one configuration file again and again: serve's reloads.
// It keeps the services entries of the last good load, decoded, by their
// text, so that a load decodes only the entries whose text changed: an
// edit of one service among 100,000 skips the parse and decode of the
// others, the bulk of a load. Everything after the decode (defaults,
// conversion, validation against the zones and sites, health checks) is
// done again on every load, so an entry's meaning never depends on the
// cache.
//
// A decode depends on nothing but the entry's text (and on the file's
// directory, against which a ca_file is made absolute: the same for
// every load of one Loader). Only a good load replaces what is kept: a
// failed one leaves the entries of the running configuration, so no
// entry of a rejected file is ever reused (though reusing one would be
// harmless: a decode that failed is never kept, and a good decode is the
// same whichever load made it).
type Loader struct {
	opts Options

	mu sync.Mutex // one load at a time
	// kept are the last good load's services entries and their decodes
	// (its Config.Services, shared, never changed); nil when that load
	// decoded the file whole.
	kept *keptServices
	// state is the last good load's State, against which the next load
	// validates only what changed.
	state *gslb.State
	// health is that load's health section, defaults applied: a service
	// of state is reused whole only under the same default_check.
	health HealthConfig
	// geo is that load's geo database, which the next load shares when
	// the file is the same and unchanged, rather than read it again.
	geo geoFile
}

// NewLoader returns a Loader of the configuration o names. running, when
// not nil, is the configuration loaded from o before (serve's first
// load): its services and geo database are reused from the first reload
// on. One loaded from another file is not (its relative ca_file paths
// were resolved against another directory).
func NewLoader(o Options, running *Loaded) *Loader {
	ld := &Loader{opts: o}
	if abs, err := filepath.Abs(o.File); running != nil && err == nil && running.File == abs {
		ld.keep(running)
	}
	return ld
}

// Load is config.Load, reusing the services entries of the last good
// load whose text did not change, and its geo database when the file
// did not change.
func (ld *Loader) Load() (*Loaded, error) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	l, err := load(ld.opts, decoding{kept: ld.kept, prev: ld.state, prevHealth: ld.health, geo: ld.geo, spare: true})
	if err != nil {
		return nil, err
	}
	ld.keep(l)
	return l, nil
}

// keep keeps l's services entries for the next load. A file whose
// services were decoded whole (JSON, TOML, a YAML list the splitter
// declined) has no entries to keep: the next load decodes everything.
func (ld *Loader) keep(l *Loaded) {
	ld.kept, ld.state, ld.health, ld.geo = nil, l.State, l.Config.Health, l.geoFile()
	if l.split != nil && len(l.split.items) == len(l.Config.Services) {
		ld.kept = &keptServices{split: l.split, services: l.Config.Services}
	}
}

// sameServices marks the services that need no conversion: an entry whose
// text is that of an entry of the last good load (src.prevOf), under the
// same health section (the default_check it takes), is the service that
// load made, converted, defaulted and checked. Not a service whose check
// reads a CA file, which may have changed. nil: none.
func (d decoding) sameServices(c Config, src source) []bool {
	if d.prev == nil || src.prevOf == nil || !reflect.DeepEqual(c.Health, d.prevHealth) {
		return nil
	}
	same := make([]bool, len(src.prevOf))
	var pc gslb.Pacer
	for i, j := range src.prevOf {
		pc.Step()
		if j >= 0 && j < len(d.prev.Services) {
			hc := d.prev.Services[j].HealthCheck
			same[i] = hc == nil || hc.CAPEM == ""
		}
	}
	return same
}

// reuseServices fills in the services sameServices marked, with those of
// the last good load. They are shared, not copied: a State is never
// changed once loaded, and at 100k services a copy of each is most of a
// reload's allocations, which the garbage collector then makes queries
// pay for.
func (d decoding) reuseServices(st *gslb.State, src source, same []bool) {
	var pc gslb.Pacer
	for i, ok := range same {
		pc.Step()
		if ok {
			st.Services[i] = d.prev.Services[src.prevOf[i]]
		}
	}
}
