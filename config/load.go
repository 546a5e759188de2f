package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/gslb"
)

// envPrefix prefixes every environment override: MERIDIAN_DNS_LISTEN sets
// dns.listen.
const envPrefix = "MERIDIAN"

// override is a setting that the environment or a flag may set over the
// file. Only process settings are overridable: zones, sites and services
// are structured lists that belong in the file.
type override struct {
	key  string // config key, "dns.listen"
	flag string // serve flag name, or "" when only the environment sets it
}

var overrides = []override{
	{"dns.listen", "dns-listen"},
	{"dns.tcp_idle_timeout", ""},
	{"dns.max_tcp_connections", ""},
	{"dns.udp_sockets", ""},
	{"dns.nsid", ""},
	{"http.listen", "http-listen"},
	{"log.level", "log-level"},
	{"log.format", "log-format"},
	{"geo.database", "geo-database"},
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// loadOptions say where the configuration comes from. They stay the same
// for the life of a serve process, so a reload sees the same overrides.
type loadOptions struct {
	file  string
	flags *pflag.FlagSet // may be nil; only flags the user set override
}

// loaded is the result of one successful load: everything serve needs to
// run one configuration generation. Serve stamps state.Generation once,
// before publishing; after that nothing in it changes, and a reload builds
// a new one.
type loaded struct {
	file    string // absolute path of the config file
	config  Config // as decoded, with defaults and absolute paths
	state   *gslb.State
	locator *geo.Locator // nil when neither a database nor rules are set
	db      *geo.DB      // nil without a database; closed by whoever retires this value
	dbStamp fileStamp    // the database file as it was opened, to notice a replacement
	watch   []string     // files whose change means a reload
	closeDB *sync.Once
	// fileState is the state of the file alone; state adds the services
	// built from Kubernetes (publisher.withKube) or is the leader's (a
	// follower).
	fileState *gslb.State
	// kubePolicy is kubernetes.default_policy, converted and defaulted.
	kubePolicy gslb.Policy
	// admin holds the overrides of the file (admin.sites, admin.members).
	admin gslb.Admin
	// adminToken is the admin API's bearer token; "" disables the API.
	adminToken string
}

// fileStamp identifies a version of a file without reading it (a geo
// database may be large).
type fileStamp struct {
	size    int64
	modTime time.Time
}

// summary is the one-line account check-config prints.
func (l *loaded) summary() string {
	return fmt.Sprintf("%d zones, %d sites, %d services", len(l.state.Zones), len(l.state.Sites), len(l.state.Services))
}

// dnsConfig is what the DNS server needs from this configuration.
func (l *loaded) dnsConfig(log *slog.Logger) dnsserver.Config {
	d := l.config.DNS
	return dnsserver.Config{
		Listen:         d.Listen,
		TCPIdleTimeout: time.Duration(d.TCPIdleTimeout),
		MaxTCPConns:    d.MaxTCPConnections,
		UDPSockets:     d.UDPSockets,
		NSID:           d.NSID,
		Logger:         log,
	}
}

// close releases the geo database. Call it only when no snapshot built
// from l can still be in use.
func (l *loaded) close() {
	if l != nil && l.db != nil {
		l.closeDB.Do(func() { l.db.Close() })
	}
}

// load reads, decodes, converts and validates the configuration. On
// failure the error joins one *gslb.FieldError per problem, each printing
// as "path: reason", and nothing stays open.
func load(o loadOptions) (*loaded, error) {
	file, err := filepath.Abs(o.file)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(file, o.flags)
	if err != nil {
		return nil, err
	}
	cfg.applyServerDefaults()
	cfg.applyHealthDefaults()
	cfg.applyGossipDefaults()
	cfg.resolvePaths(filepath.Dir(file), o.flags)

	var p problems
	cfg.checkServer(&p)
	cfg.checkGossip(&p)
	st := cfg.toState(&p)
	failed := loadZoneFiles(st, &p)
	st.ApplyDefaults()
	cfg.applyHealthChecks(st, &p)
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
	return &loaded{
		file: file, config: cfg, state: st, fileState: st, kubePolicy: kubePolicy, locator: loc,
		db: db, dbStamp: stamp, closeDB: new(sync.Once), watch: cfg.watchFiles(file),
		admin: admin, adminToken: token,
	}, nil
}

// readConfig reads the file with viper, lays the environment and flag
// overrides over it and decodes it strictly: an unknown key is an error,
// because a silently ignored typo is a misconfiguration nobody sees.
func readConfig(file string, flags *pflag.FlagSet) (Config, error) {
	v := viper.New()
	v.SetConfigFile(file)
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json", ".toml", ".yaml", ".yml":
	default:
		// A Kubernetes ConfigMap key often has no extension: read YAML.
		v.SetConfigType("yaml")
	}
	if err := v.ReadInConfig(); err != nil {
		return Config{}, errors.New(oneFileName(fmt.Sprintf("%s: %v", file, unwrapViper(err))))
	}
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, o := range overrides {
		if err := v.BindEnv(o.key); err != nil {
			return Config{}, err
		}
		if f := changedFlag(flags, o.flag); f != nil {
			if err := v.BindPFlag(o.key, f); err != nil {
				return Config{}, err
			}
		}
	}
	var c Config
	err := v.UnmarshalExact(&c, func(dc *mapstructure.DecoderConfig) {
		// Weak typing would turn ttl: -30 into 4294967266 and true into
		// 1; numberHook does the string conversions the environment needs,
		// with range checks.
		dc.WeaklyTypedInput = false
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(durationHook, stringListHook, numberHook, statusCodesHook, textHook)
	})
	if err != nil {
		return Config{}, errors.Join(decodeErrors(err)...)
	}
	return c, nil
}

// unwrapViper drops viper's "While parsing config:" wrapper text, keeping
// the parser's message (which carries the line number).
func unwrapViper(err error) error {
	var pe viper.ConfigParseError
	if errors.As(err, &pe) {
		if u := errors.Unwrap(pe); u != nil {
			return u
		}
	}
	return err
}

// changedFlag returns the flag called name if the user set it. Unset flags must
// not override: their defaults would hide the file's values.
func changedFlag(fs *pflag.FlagSet, name string) *pflag.Flag {
	if fs == nil || name == "" {
		return nil
	}
	if f := fs.Lookup(name); f != nil && f.Changed {
		return f
	}
	return nil
}

var durationType = reflect.TypeOf(Duration(0))

// durationHook reads Go duration strings ("10s"). A bare number is
// refused: 10 would silently mean ten nanoseconds.
func durationHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("want a duration such as \"10s\", got %q", v)
		}
		return Duration(d), nil
	case Duration, time.Duration:
		return v, nil
	default:
		if reflect.ValueOf(data).IsZero() {
			return Duration(0), nil
		}
		return nil, fmt.Errorf("want a duration with a unit such as \"10s\", got %v", data)
	}
}

var stringsType = reflect.TypeOf([]string(nil))

// stringListHook lets one string stand for a list, split at commas, so that
// MERIDIAN_DNS_LISTEN="127.0.0.1:53,[::1]:53" sets two addresses.
func stringListHook(from reflect.Type, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != stringsType {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// numberHook converts into numeric and boolean fields strictly: strings
// (every environment value is one) are parsed in base 10, negative values
// never reach unsigned fields, a fraction never reaches an integer, and a
// value too large for the field is an error rather than a wrap-around.
func numberHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	switch k := to.Kind(); {
	case to == durationType || data == nil:
		return data, nil
	case k == reflect.Bool:
		if s, ok := data.(string); ok {
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("want true or false, got %q", s)
			}
			return b, nil
		}
	case k == reflect.Float32 || k == reflect.Float64:
		if s, ok := data.(string); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("want a number, got %q", s)
			}
			return f, nil
		}
	case k >= reflect.Int && k <= reflect.Int64, k >= reflect.Uint && k <= reflect.Uint64:
		return toInteger(to, data)
	}
	return data, nil
}

// toInteger converts data into the integer type to, checking its range.
func toInteger(to reflect.Type, data any) (any, error) {
	unsigned := to.Kind() >= reflect.Uint
	want := "an integer"
	if unsigned {
		want = "a non-negative integer"
	}
	var n *big.Int
	switch v := reflect.ValueOf(data); v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n = big.NewInt(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n = new(big.Int).SetUint64(v.Uint())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("want %s, got %v", want, f)
		}
		n, _ = big.NewFloat(f).Int(nil)
	case reflect.String:
		var ok bool
		if n, ok = new(big.Int).SetString(strings.TrimSpace(v.String()), 10); !ok {
			return nil, fmt.Errorf("want %s, got %q", want, v.String())
		}
	default:
		return data, nil // not a number: mapstructure reports the type
	}
	lo, hi := intRange(to)
	switch {
	case unsigned && n.Sign() < 0:
		return nil, fmt.Errorf("want %s, got %v", want, n)
	case n.Cmp(lo) < 0:
		return nil, fmt.Errorf("%v is too small (at least %v)", n, lo)
	case n.Cmp(hi) > 0:
		return nil, fmt.Errorf("%v is too large (at most %v)", n, hi)
	}
	out := reflect.New(to).Elem()
	if unsigned {
		out.SetUint(n.Uint64())
	} else {
		out.SetInt(n.Int64())
	}
	return out.Interface(), nil
}

// intRange is the smallest and largest value of an integer type.
func intRange(t reflect.Type) (lo, hi *big.Int) {
	bits := uint(t.Bits())
	one := big.NewInt(1)
	if t.Kind() >= reflect.Uint {
		return big.NewInt(0), new(big.Int).Sub(new(big.Int).Lsh(one, bits), one)
	}
	hi = new(big.Int).Sub(new(big.Int).Lsh(one, bits-1), one)
	return new(big.Int).Neg(new(big.Int).Add(hi, one)), hi
}

// resolvePaths makes file paths absolute: paths written in the file are
// relative to the file's directory (so a config works from any working
// directory), paths given by a flag or the environment to the working
// directory (as a shell user expects).
func (c *Config) resolvePaths(dir string, flags *pflag.FlagSet) {
	if db := c.Geo.Database; db != "" && !filepath.IsAbs(db) {
		if changedFlag(flags, "geo-database") != nil || os.Getenv(envName("geo.database")) != "" {
			if abs, err := filepath.Abs(db); err == nil {
				c.Geo.Database = abs
			}
		} else {
			c.Geo.Database = filepath.Join(dir, db)
		}
	}
	for i := range c.Zones {
		if f := c.Zones[i].ZoneFile; f != "" && !filepath.IsAbs(f) {
			c.Zones[i].ZoneFile = filepath.Join(dir, f)
		}
	}
	c.resolveHealthPaths(dir)
	c.resolveGossipPaths(dir)
	c.resolveKubePaths(dir)
}

// watchFiles are the files a change of which should reload the config.
func (c *Config) watchFiles(file string) []string {
	files := []string{file}
	if c.Geo.Database != "" {
		files = append(files, c.Geo.Database)
	}
	for _, z := range c.Zones {
		if z.ZoneFile != "" {
			files = append(files, z.ZoneFile)
		}
	}
	files = append(files, c.healthFiles()...)
	if c.Gossip.KeyFile != "" {
		files = append(files, c.Gossip.KeyFile) // rotation: reloads reread it
	}
	if c.Kubernetes.Kubeconfig != "" {
		files = append(files, c.Kubernetes.Kubeconfig) // member clusters come and go
	}
	return files
}

// loadZoneFiles reads each zone's zone_file into it (SOA, NS, records)
// before defaults and validation, so a zone may be defined by its file
// alone. It returns the zones whose file failed, which checkZones skips.
func loadZoneFiles(st *gslb.State, p *problems) map[int]bool {
	failed := map[int]bool{}
	for i := range st.Zones {
		if st.Zones[i].ZoneFile == "" {
			continue
		}
		if p.adopt(fmt.Sprintf("zones[%d].", i), dnsserver.LoadZoneFile(&st.Zones[i]), zoneKeys...) {
			failed[i] = true
			continue
		}
		// Its records are in the zone now. The path means nothing at
		// another site (the State travels to followers), and CheckZone
		// need not parse the file a second time.
		st.Zones[i].ZoneFile = ""
	}
	return failed
}

// zoneKeys are the keys under zones[i] that dnsserver's errors start with.
var zoneKeys = []string{"records", "zone_file", "soa", "nameservers", "name", "ns_ttl"}

// checkZones parses static records the way the DNS server will. A zone
// whose file did not load or whose name is already wrong is skipped: its
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

// openGeo opens the geo database and builds the locator. Rules with
// errors were already reported; the locator is only built from a clean
// list so that its own errors' indexes match the file.
//
// The file is stat'ed before it is opened: if it is replaced in between,
// the stamp is the older one and the next reload sees the difference.
func openGeo(g GeoConfig, rules []geo.Rule, p *problems) (*geo.DB, fileStamp, *geo.Locator) {
	var db *geo.DB
	var stamp fileStamp
	if g.Database != "" {
		fi, err := os.Stat(g.Database)
		switch {
		case err != nil:
			p.add("geo.database", "%s: %v", g.Database, statReason(err))
		case fi.IsDir():
			p.add("geo.database", "%s is a directory", g.Database)
		default:
			stamp = fileStamp{size: fi.Size(), modTime: fi.ModTime()}
			if db, err = geo.Open(g.Database); err != nil {
				p.add("geo.database", "%s", trimPackage(err.Error())) // names the file
				db = nil
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

// statReason is a stat error without the path, which the caller prints.
func statReason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file")
		}
		return pe.Err
	}
	return err
}

// problems collects every error of one load, so that the operator sees
// them all at once instead of fixing one per run.
type problems struct {
	list []error
}

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, &gslb.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// has reports whether a problem was already recorded at path.
func (p *problems) has(path string) bool {
	for _, e := range p.list {
		var fe *gslb.FieldError
		if errors.As(e, &fe) && fe.Path == path {
			return true
		}
	}
	return false
}

// validated adds gslb's validation errors in the file's terms, except
//   - at paths the conversion already reported: a bad address is kept as
//     an invalid netip.Addr so the indexes stay right, and Validate would
//     call it "not an IP address" again;
//   - inside zones whose zone_file failed to load: their missing SOA and
//     name servers only repeat that failure.
func (p *problems) validated(err error, failedZones map[int]bool) {
	reported := len(p.list)
	for _, e := range leaves(err) {
		var fe *gslb.FieldError
		if !errors.As(e, &fe) {
			p.list = append(p.list, e)
			continue
		}
		path := filePath(fe.Path)
		if p.hasIn(path, reported) || inFailedZone(path, failedZones) {
			continue
		}
		p.list = append(p.list, &gslb.FieldError{Path: path, Msg: fe.Msg})
	}
}

// filePath turns a gslb field path into the file's: gslb nests the
// persistence masks (persistence.mask.ipv4), the file has them flat
// (persistence.ipv4_mask).
func filePath(path string) string {
	path = strings.Replace(path, ".persistence.mask.ipv4", ".persistence.ipv4_mask", 1)
	return strings.Replace(path, ".persistence.mask.ipv6", ".persistence.ipv6_mask", 1)
}

func inFailedZone(path string, failed map[int]bool) bool {
	for i := range failed {
		if strings.HasPrefix(path, fmt.Sprintf("zones[%d].", i)) {
			return true
		}
	}
	return false
}

func (p *problems) hasIn(path string, n int) bool {
	for _, e := range p.list[:n] {
		var fe *gslb.FieldError
		if errors.As(e, &fe) && (fe.Path == path || strings.HasPrefix(fe.Path, path+"[")) {
			return true
		}
	}
	return false
}

// adopt adds the errors of another package under prefix ("zones[0].",
// "geo."). Those packages cannot return gslb.FieldError (geo is below
// gslb) so their messages start with a relative path, "records[2]: ..."
// or "zone_file PATH line 3: ...": a leading token counts as a path when
// it has an index or starts with one of keys. It reports whether err was
// non-nil.
func (p *problems) adopt(prefix string, err error, keys ...string) bool {
	if err == nil {
		return false
	}
	for _, e := range leaves(err) {
		var fe *gslb.FieldError
		if errors.As(e, &fe) {
			p.list = append(p.list, &gslb.FieldError{Path: prefix + fe.Path, Msg: fe.Msg})
			continue
		}
		path, msg := splitPath(trimPackage(e.Error()), keys)
		msg = oneFileName(msg)
		if path == "" {
			p.list = append(p.list, &gslb.FieldError{Path: strings.TrimSuffix(prefix, "."), Msg: msg})
			continue
		}
		p.list = append(p.list, &gslb.FieldError{Path: prefix + path, Msg: msg})
	}
	return true
}

// trimPackage drops a leading "geo: "-style package name: the field
// path says where the problem is better than the package does.
func trimPackage(msg string) string {
	for _, pkg := range []string{"geo: ", "dnsserver: ", "gslb: "} {
		msg = strings.TrimPrefix(msg, pkg)
	}
	return msg
}

// oneFileName shortens "/x.zone: open /x.zone: no such file or directory"
// to "/x.zone: no such file or directory": os errors repeat the name.
func oneFileName(msg string) string {
	i := strings.Index(msg, ": open ")
	if i <= 0 {
		return msg
	}
	name, rest := msg[:i], msg[i+len(": open "):]
	if strings.HasPrefix(rest, name+": ") {
		return name + ": " + rest[len(name)+2:]
	}
	return msg
}

// splitPath splits "records[2]: bad" into ("records[2]", "bad") and
// "zone_file /x line 3: bad" into ("zone_file", "/x line 3: bad").
func splitPath(s string, keys []string) (path, msg string) {
	n := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_.[]", r))
	})
	if n <= 0 || (s[n] != ':' && s[n] != ' ') {
		return "", s
	}
	tok := s[:n]
	first := strings.FieldsFunc(tok, func(r rune) bool { return r == '.' || r == '[' })[0]
	known := false
	for _, k := range keys {
		known = known || k == first
	}
	if !known && !strings.Contains(tok, "[") {
		return "", s
	}
	return tok, strings.TrimSpace(strings.TrimPrefix(s[n:], ":"))
}

// err joins the problems in the order of the file's sections (dns,
// http, log, geo, zones, sites, services) and of the entries within a
// section, whatever order the checks found them in.
func (p *problems) err() error {
	slices.SortStableFunc(p.list, func(a, b error) int {
		return cmp.Or(cmp.Compare(sectionRank(a), sectionRank(b)), cmp.Compare(entryIndex(a), entryIndex(b)))
	})
	return errors.Join(p.list...)
}

// sections are the top-level keys in file order.
var sections = []string{"dns", "http", "log", "geo", "health", "admin", "gossip", "kubernetes", "zones", "sites", "services"}

func sectionRank(err error) int {
	var fe *gslb.FieldError
	if !errors.As(err, &fe) {
		return -1 // a file that does not parse comes first
	}
	top, _, _ := strings.Cut(fe.Path, ".")
	top, _, _ = strings.Cut(top, "[")
	if i := slices.Index(sections, top); i >= 0 {
		return i
	}
	return len(sections)
}

// entryIndex is the first list index in the path: 3 for
// "services[3].members[0].site", -1 when there is none.
func entryIndex(err error) int {
	var fe *gslb.FieldError
	if !errors.As(err, &fe) {
		return -1
	}
	_, rest, ok := strings.Cut(fe.Path, "[")
	if !ok {
		return -1
	}
	n, _, _ := strings.Cut(rest, "]")
	i, err2 := strconv.Atoi(n)
	if err2 != nil {
		return -1
	}
	return i
}

// leaves flattens joined errors (errors.Join, possibly nested) into the
// individual errors, each still printing as one line.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// decodeErrors turns mapstructure's errors into field errors: its
// DecodeError carries the field path ("services[0].policy"), and an
// unknown key becomes one error at the key's own path, with a suggestion
// when the key looks like a typo of a known one.
func decodeErrors(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) { //nolint:errorlint // walks the error tree itself, level by level
		case *mapstructure.DecodeError:
			out = append(out, fromDecodeError(x)...)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			if u := x.Unwrap(); u != nil {
				walk(u)
				return
			}
			out = append(out, e)
		default:
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

const invalidKeys = "has invalid keys: "

func fromDecodeError(de *mapstructure.DecodeError) []error {
	name, inner := de.Name(), de.Unwrap()
	if msg := inner.Error(); strings.HasPrefix(msg, invalidKeys) {
		var out []error
		known := keysAt(reflect.TypeOf(Config{}), name)
		for _, k := range strings.Split(strings.TrimPrefix(msg, invalidKeys), ", ") {
			m := "unknown key"
			if s := suggest(k, known); s != "" {
				m += fmt.Sprintf(" (did you mean %q?)", s)
			}
			out = append(out, &gslb.FieldError{Path: joinPath(name, k), Msg: m})
		}
		return out
	}
	if name == "" {
		name = "config"
	}
	return []error{&gslb.FieldError{Path: name, Msg: decodeReason(inner)}}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// decodeReason rewords mapstructure's type errors in the file's terms.
func decodeReason(err error) string {
	var pe *mapstructure.ParseError
	var ue *mapstructure.UnconvertibleTypeError
	switch {
	case errors.As(err, &pe):
		return fmt.Sprintf("want %s, got %s", kindName(pe.Expected.Type()), valueText(pe.Value))
	case errors.As(err, &ue):
		return fmt.Sprintf("want %s, got %s", kindName(ue.Expected.Type()), valueText(ue.Value))
	}
	msg := err.Error()
	for prefix, want := range map[string]string{
		"expected a map or struct, got ":              "a map",
		"source data must be an array or slice, got ": "a list",
	} {
		if got, ok := strings.CutPrefix(msg, prefix); ok {
			return fmt.Sprintf("want %s, got %s", want, goKindWord(strings.Trim(got, `"`)))
		}
	}
	return msg
}

// goKindWord names a reflect.Kind as the file would: "slice" is a list.
func goKindWord(kind string) string {
	switch kind {
	case "slice", "array":
		return "a list"
	case "map", "struct":
		return "a map"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "uint", "float32", "float64", "int64", "uint64":
		return "a number"
	}
	return kind
}

func valueText(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		return kindName(reflect.TypeOf(v))
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a map"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// keysAt lists the keys allowed at a decode path such as
// "services[0].policy", read from the mapstructure tags.
func keysAt(t reflect.Type, path string) []string {
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		t = deref(t)
		if t.Kind() != reflect.Struct {
			return nil
		}
		found := false
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Tag.Get("mapstructure") == seg {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return nil
		}
	}
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return nil
	}
	keys := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		keys = append(keys, t.Field(i).Tag.Get("mapstructure"))
	}
	return keys
}

// deref looks through pointers and slices to the element type.
func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

// suggest returns the known key closest to k when it is near enough to
// be a typo.
func suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestD && d < max(len(c)/2, 1)+1 {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
