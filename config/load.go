package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
)

// Options say where the configuration comes from. They stay the same
// for the life of a serve process, so a reload sees the same overrides.
type Options struct {
	File  string
	Flags *pflag.FlagSet // may be nil; only flags the user set override
}

// Loaded is the result of one successful load: everything a serve
// process needs to run one configuration. Nothing in it changes after
// Load returns (control copies State before it stamps a version on it or
// adds services to it); a reload builds a new one.
type Loaded struct {
	File   string // absolute path of the config file
	Config Config // as decoded, with defaults and absolute paths
	// State is the file's zones, sites and services, validated, with
	// defaults applied and zone files read in; Term and Generation are 0.
	State   *gslb.State
	Locator *geo.Locator // nil when neither a database nor rules are set
	Watch   []string     // files whose change means a reload
	// KubePolicy is kubernetes.default_policy, converted and defaulted.
	KubePolicy gslb.Policy
	// DefaultCheck is health.default_check in the State's form; nil
	// without one.
	DefaultCheck *gslb.HealthCheck
	// Admin holds the overrides of the file (admin.sites, admin.members).
	Admin gslb.Admin
	// AdminToken is the admin API's bearer token; "" disables the API.
	AdminToken string

	db      *geo.DB   // nil without a database; closed by Close
	dbStamp fileStamp // the database file as it was opened, to notice a replacement
	closeDB *sync.Once
}

// fileStamp identifies a version of a file without reading it (a geo
// database may be large).
type fileStamp struct {
	size    int64
	modTime time.Time
}

// Summary is the one-line account check-config prints.
func (l *Loaded) Summary() string {
	return fmt.Sprintf("%d zones, %d sites, %d services", len(l.State.Zones), len(l.State.Sites), len(l.State.Services))
}

// DNSConfig is what the DNS server needs from this configuration.
func (l *Loaded) DNSConfig(log *slog.Logger) dnsserver.Config {
	d := l.Config.DNS
	return dnsserver.Config{
		Listen:         d.Listen,
		TCPIdleTimeout: time.Duration(d.TCPIdleTimeout),
		MaxTCPConns:    d.MaxTCPConnections,
		UDPSockets:     d.UDPSockets,
		NSID:           d.NSID,
		Logger:         log,
	}
}

// HasDB reports whether l opened a geo database, which Close releases.
func (l *Loaded) HasDB() bool { return l != nil && l.db != nil }

// Close releases the geo database. Call it only when no snapshot built
// from l can still be in use. It may be called more than once.
func (l *Loaded) Close() {
	if l != nil && l.db != nil {
		l.closeDB.Do(func() { l.db.Close() })
	}
}

// Same reports whether o would serve exactly what l serves: the same
// decoded file, the same state (zone files and CA files included, which
// are read into it), the same admin token and the same geo database file.
func (l *Loaded) Same(o *Loaded) bool {
	return l.dbStamp == o.dbStamp &&
		reflect.DeepEqual(l.Config, o.Config) &&
		reflect.DeepEqual(*l.State, *o.State) &&
		l.AdminToken == o.AdminToken
}

// Load reads, decodes, converts and validates the configuration. On
// failure the error joins one *gslb.FieldError per problem, each printing
// as "path: reason", and nothing stays open.
func Load(o Options) (*Loaded, error) {
	file, err := filepath.Abs(o.File)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(file, o.Flags)
	if err != nil {
		return nil, err
	}
	cfg.applyServerDefaults()
	cfg.applyHealthDefaults()
	cfg.applyGossipDefaults()
	cfg.resolvePaths(filepath.Dir(file), o.Flags)

	var p problems
	cfg.checkServer(&p)
	cfg.checkGossip(&p)
	st := cfg.toState(&p)
	failed := loadZoneFiles(st, &p)
	st.ApplyDefaults()
	defCheck := cfg.applyHealthChecks(st, &p)
	p.validated(st.Validate(), failed)
	checkZones(st, failed, &p)
	cfg.checkHealthSettings(&p)
	kubePolicy := cfg.checkKubernetes(st, &p)
	admin := cfg.adminOverrides(st, &p)
	token := cfg.adminToken(&p)
	rules := cfg.geoRules(&p)
	db, stamp, loc := openGeo(cfg.Geo, rules, &p)
	if err := p.err(); err != nil {
		if db != nil {
			db.Close()
		}
		return nil, err
	}
	return &Loaded{
		File: file, Config: cfg, State: st, Locator: loc, Watch: cfg.watchFiles(file),
		KubePolicy: kubePolicy, DefaultCheck: defCheck, Admin: admin, AdminToken: token,
		db: db, dbStamp: stamp, closeDB: new(sync.Once),
	}, nil
}
