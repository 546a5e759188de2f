package config

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
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

	// text is the file as read, which Same compares; split is its
	// services entries, when they were decoded one by one, which a
	// Loader keeps to re-cut only what the next read changed.
	text    string
	split   *servicesSplit
	db      *geo.DB   // nil without a database; may be shared with the Loader's next load
	dbStamp fileStamp // the database file as it was opened, to notice a replacement
}

// fileStamp identifies a version of a file without reading it (a geo
// database may be large). Where the system tells (stampOf), the inode and
// the change time are part of it: a file renamed over the old one, or
// rewritten in place, with the same size and modification time (cp -p,
// rsync -t, tar) is still a new version.
type fileStamp struct {
	size    int64
	modTime time.Time
	inode   uint64
	ctime   int64 // ns since the epoch; 0 where unknown
}

// Summary is the one-line account check-config prints.
func (l *Loaded) Summary() string {
	return fmt.Sprintf("%d zones, %d sites, %d services", len(l.State.Zones), len(l.State.Sites), len(l.State.Services))
}

// DNSConfig is what the DNS server needs from this configuration.
func (l *Loaded) DNSConfig(log *slog.Logger) dnsserver.Config {
	d := l.Config.DNS
	return dnsserver.Config{
		Listen:               d.Listen,
		TCPIdleTimeout:       time.Duration(d.TCPIdleTimeout),
		MaxTCPConns:          d.MaxTCPConnections,
		MaxTCPConnsPerSource: d.MaxTCPConnectionsPerSource,
		RRL:                  d.RRL.DNSRRL(),
		TSIGKeys:             dnsTSIGKeys(d.TSIGKeys),
		CookieSecrets:        d.cookieSecrets.secrets(),
		DNSSECKeyDir:         d.DNSSECKeyDirectory,
		UDPSockets:           d.UDPSockets,
		ServiceMetrics:       d.ServiceMetrics,
		NSID:                 d.NSID,
		Logger:               log,
	}
}

// geoFile is l's geo database, for a Loader to hand to the next load.
func (l *Loaded) geoFile() geoFile {
	return geoFile{path: l.Config.Geo.Database, stamp: l.dbStamp, db: l.db}
}

// Same reports whether o would serve exactly what l serves: the same
// file text (and so, with the same environment and flags, the same
// decoded services), the same settings, the same zones (zone files are
// read into them), the same CA files (read into the services' checks),
// the same admin token and the same geo database file. It is cheap: the
// services are compared by their text, not field by field.
func (l *Loaded) Same(o *Loaded) bool {
	lc, oc := l.Config, o.Config
	lc.Services, oc.Services = nil, nil // decoded from the same text
	return l.File == o.File && l.dbStamp == o.dbStamp &&
		l.text == o.text &&
		l.AdminToken == o.AdminToken &&
		reflect.DeepEqual(lc, oc) &&
		reflect.DeepEqual(l.State.Zones, o.State.Zones) &&
		reflect.DeepEqual(l.State.Sites, o.State.Sites) &&
		reflect.DeepEqual(l.DefaultCheck, o.DefaultCheck) &&
		sameCAs(l.State, o.State)
}

// sameCAs reports whether every service's check has the same CA
// certificates: the one part of a service read from a file other than
// the configuration.
func sameCAs(a, b *gslb.State) bool {
	if len(a.Services) != len(b.Services) {
		return false
	}
	var pc gslb.Pacer
	for i := range a.Services {
		pc.Step()
		ac, bc := a.Services[i].HealthCheck, b.Services[i].HealthCheck
		if (ac == nil) != (bc == nil) || ac != nil && ac.CAPEM != bc.CAPEM {
			return false
		}
	}
	return true
}

// Load reads, decodes, converts and validates the configuration. On
// failure the error joins one *gslb.FieldError per problem, each printing
// as "path: reason", and nothing stays open. A serve process, which loads
// the same file again on every reload, uses a Loader instead.
func Load(o Options) (*Loaded, error) {
	return load(o, decoding{})
}

// load is Load, decoding the services as how says.
func load(o Options, how decoding) (*Loaded, error) {
	file, err := filepath.Abs(o.File)
	if err != nil {
		return nil, err
	}
	cfg, src, err := readConfig(file, o.Flags, how)
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
	same := how.sameServices(cfg, src)
	st := cfg.toState(&p, same)
	failed := loadZoneFiles(st, &p)
	applyDefaults(st, same)
	defCheck := cfg.applyHealthChecks(st, &p, same)
	how.reuseServices(st, src, same)
	p.validated(st.ValidateChanged(how.prev), failed)
	checkZones(st, failed, &p)
	cfg.checkDNSSEC(st, &p)
	cfg.checkDelegation(st, &p)
	cfg.checkHealthSettings(&p)
	kubePolicy := cfg.checkKubernetes(st, &p)
	admin := cfg.adminOverrides(st, &p)
	token := cfg.adminToken(&p)
	rules := cfg.geoRules(&p)
	db, stamp, loc := openGeo(cfg.Geo, rules, how.geo, &p)
	if err := p.err(); err != nil {
		// db is not closed: it may be the running configuration's (a
		// Loader's reuse), and if not the garbage collector frees it.
		return nil, err
	}
	return &Loaded{
		File: file, Config: cfg, State: st, Locator: loc, Watch: cfg.watchFiles(file),
		KubePolicy: kubePolicy, DefaultCheck: defCheck, Admin: admin, AdminToken: token,
		db: db, dbStamp: stamp, text: src.text, split: src.split,
	}, nil
}

// applyDefaults is st.ApplyDefaults, but for the services marked same,
// which reuseServices replaces with the last load's, defaulted then: at
// 100k services, defaulting them was 8 ms of a one-service reload.
func applyDefaults(st *gslb.State, same []bool) {
	if same == nil {
		st.ApplyDefaults()
		return
	}
	st.ApplyZoneDefaults()
	var pc gslb.Pacer
	for i := range st.Services {
		pc.Step()
		if !same[i] {
			st.Services[i].ApplyDefaults()
		}
	}
}
