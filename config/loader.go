package config

import (
	"path/filepath"
	"sync"
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
	// services are the last good load's services (its Config.Services,
	// shared, never changed), byText indexes them by their entry's text.
	services []ServiceConfig
	byText   map[string]int
}

// NewLoader returns a Loader of the configuration o names. running, when
// not nil, is the configuration loaded from o before (serve's first
// load): its services are reused from the first reload on. One loaded
// from another file is not (its relative ca_file paths were resolved
// against another directory).
func NewLoader(o Options, running *Loaded) *Loader {
	ld := &Loader{opts: o}
	if abs, err := filepath.Abs(o.File); running != nil && err == nil && running.File == abs {
		ld.keep(running)
	}
	return ld
}

// Load is config.Load, reusing the services entries of the last good
// load whose text did not change.
func (ld *Loader) Load() (*Loaded, error) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var reuse func(string) (ServiceConfig, bool)
	if len(ld.byText) > 0 {
		services, byText := ld.services, ld.byText // only read while loading
		reuse = func(text string) (ServiceConfig, bool) {
			i, ok := byText[text]
			if !ok {
				return ServiceConfig{}, false
			}
			return services[i], true
		}
	}
	l, err := load(ld.opts, decoding{reuse: reuse})
	if err != nil {
		return nil, err
	}
	ld.keep(l)
	return l, nil
}

// keep indexes l's services for the next load. A file whose services
// were decoded whole (JSON, TOML, a YAML list the splitter declined)
// has no entries to index: the next load decodes everything.
func (ld *Loader) keep(l *Loaded) {
	ld.services, ld.byText = nil, nil
	if l.items == nil || len(l.items) != len(l.Config.Services) {
		return
	}
	ld.services = l.Config.Services
	ld.byText = make(map[string]int, len(l.items))
	for i, it := range l.items {
		ld.byText[it.key] = i
	}
}
