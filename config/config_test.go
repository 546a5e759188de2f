package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/meridian-gslb/meridian/gslb"
)

const goodFixture = "testdata/good.yaml"

// fixtureDir copies testdata/good.yaml and its zone file into a temporary
// directory, so a test can change the copy, and returns the config path.
func fixtureDir(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, "testdata/zones/static.example.zone", filepath.Join(dir, "zones", "static.example.zone"))
	b, err := os.ReadFile(goodFixture)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(dir, "meridian.yaml")
	writeFile(t, path, text)
	return path
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustLoad loads path, which must load.
func mustLoad(t *testing.T, path string) *Loaded {
	t.Helper()
	l, err := Load(Options{File: path})
	must(t, err)
	return l
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace returns an edit that replaces old (which must occur exactly
// once, so a fixture change cannot silently turn a case into a no-op).
func replace(t *testing.T, old, new string) func(string) string {
	return func(s string) string {
		t.Helper()
		if n := strings.Count(s, old); n != 1 {
			t.Fatalf("fixture has %q %d times, want once", old, n)
		}
		return strings.Replace(s, old, new, 1)
	}
}

// errorLines is what check-config prints: one "path: reason" per problem.
// wantLoadErrors loads path, which must fail with exactly the errors
// want, in order, each matched as a prefix of its line; it returns the
// error.
func wantLoadErrors(t *testing.T, path string, want []string) error {
	t.Helper()
	_, err := Load(Options{File: path})
	if err == nil {
		t.Fatal("Loaded without error")
	}
	got := errorLines(err)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d:\n got  %s\n want %s...", i, got[i], w)
		}
	}
	return err
}

func errorLines(err error) []string {
	var out []string
	for _, e := range Leaves(err) {
		out = append(out, e.Error())
	}
	return out
}

func TestGoodFixtureLoads(t *testing.T) {
	l, err := Load(Options{File: goodFixture})
	if err != nil {
		t.Fatalf("good fixture: %v", err)
	}
	if got := l.Summary(); got != "2 zones, 3 sites, 4 services" {
		t.Errorf("summary = %q", got)
	}
	c := l.Config
	if time.Duration(c.DNS.TCPIdleTimeout) != 15*time.Second || c.DNS.MaxTCPConnections != 100 {
		t.Errorf("dns settings: %+v", c.DNS)
	}
	if l.Locator == nil {
		t.Error("geo rules given but no locator built")
	}
	// The zone from a file got its SOA, NS and glue from the file.
	z := l.State.Zones[1]
	if z.SOA.MName != "ns1.static.example." || len(z.NameServers) != 1 || len(z.NameServers[0].Addresses) != 1 {
		t.Errorf("zone from file: %+v", z)
	}
	if !filepath.IsAbs(c.Zones[1].ZoneFile) {
		t.Errorf("zone_file not made absolute: %q", c.Zones[1].ZoneFile)
	}
}

func TestWeightPersistenceAndDefaults(t *testing.T) {
	l, err := Load(Options{File: goodFixture})
	if err != nil {
		t.Fatal(err)
	}
	www := l.State.Services[1]
	// weight: 3 is kept, an explicit 0 drains, an absent weight is 1.
	if got := []uint32{www.Members[0].Weight, www.Members[1].Weight, www.Members[2].Weight}; !slices.Equal(got, []uint32{3, 0, gslb.DefaultWeight}) {
		t.Errorf("weights = %v, want [3 0 1]", got)
	}
	// persistence.ipv4_mask/ipv6_mask land in gslb's Persistence.Mask.
	if p := www.Policy.Persistence; !p.Enabled || p.Mask != (gslb.Mask{IPv4: 20, IPv6: 48}) {
		t.Errorf("persistence = %+v", p)
	}
	app := l.State.Services[0]
	if app.Policy.TTL != gslb.DefaultTTL || app.Policy.Persistence.Mask != (gslb.Mask{IPv4: gslb.DefaultMaskIPv4, IPv6: gslb.DefaultMaskIPv6}) {
		t.Errorf("gslb defaults not applied: %+v", app.Policy)
	}
	if l.State.Services[2].Policy.DegradedTTL != 5 || l.State.Services[2].Policy.Down.Type != gslb.DownFallback {
		t.Errorf("db policy: %+v", l.State.Services[2].Policy)
	}
	topo := l.State.Services[3].Policy.Topology
	if len(topo) != 2 || topo[0].CIDRs[0].String() != "10.0.0.0/8" || topo[1].Countries[0] != "AU" {
		t.Errorf("topology: %+v", topo)
	}
}

// brokenCases break the good fixture one way each (TestBrokenConfigs;
// TestSplitAndWholeAgree loads each both ways).
var brokenCases = []struct {
	name     string
	old, new string
	want     []string // each a prefix of one error line, in order
}{
	{"unknown key with suggestion", "strategy: geo", "strategyy: geo",
		[]string{`services[0].policy.strategyy: unknown key (did you mean "strategy"?)`}},
	{"unknown top-level key", "\nsites:\n", "\nsitez:\n",
		[]string{`sitez: unknown key (did you mean "sites"?)`}},
	{"unknown key in a member", "{site: ap-south, addresses: [203.0.113.20]}", "{site: ap-south, adresses: [203.0.113.20]}",
		[]string{`services[1].members[2].adresses: unknown key (did you mean "addresses"?)`}},
	{"bad IP", `[192.0.2.20, "2001:db8:1::20"]`, `[192.0.2.20, "2001:db8:1::zz"]`,
		[]string{`services[1].members[0].addresses[1]: "2001:db8:1::zz" is not an IP address`}},
	{"unknown site", "{site: eu-west, addresses: [198.51.100.10, ", "{site: mars, addresses: [198.51.100.10, ",
		[]string{`services[0].members[1].site: unknown site "mars"`}},
	{"bad strategy", "strategy: roundrobin", "strategy: fastest",
		[]string{`services[2].policy.strategy: unknown strategy "fastest"`}},
	{"bad CIDR in geo rule", "cidr: 127.0.0.0/8", "cidr: 127.0.0.0/33",
		[]string{`geo.rules[0].cidr: "127.0.0.0/33" is not a CIDR prefix`}},
	{"host bits in geo rule", "cidr: 127.0.0.0/8", "cidr: 127.0.0.1/8",
		[]string{`geo.rules[0].cidr: "127.0.0.1/8" has host bits set; did you mean 127.0.0.0/8?`}},
	{"negative compiled_max_mb", "geo:\n  rules:", "geo:\n  compiled_max_mb: -1\n  rules:",
		[]string{`geo.compiled_max_mb: -1: must be 0 (the default, 256) or more`}},
	{"geo rule at an unknown site", "      site: us-east\n", "      site: moon\n",
		[]string{`geo.rules[0].site: unknown site "moon"`}},
	{"geo rule with site and location", "      site: us-east\n", "      site: us-east\n      location: {country: US}\n",
		[]string{`geo.rules[0]: give a site or a location, not both`}},
	{"geo rule latitude without longitude", "{lat: 53.35, lon: -6.26, country: IE, continent: EU}\n\nzones", "{lat: 53.35, country: IE}\n\nzones",
		[]string{`geo.rules[1].location: give both lat and lon, or neither`}},
	{"missing glue", "        addresses: [127.0.0.1]\n", "",
		[]string{`zones[0].nameservers[0].addresses: name server ns1.gslb.example. is inside zone gslb.example. and needs glue`}},
	{"bad static record", "'@ 300 IN MX 10 mail.gslb.example.'", "'@ 300 IN MX ten mail.gslb.example.'",
		[]string{`zones[0].records[2]: `}},
	{"missing zone file", "zone_file: zones/static.example.zone", "zone_file: zones/nope.zone",
		[]string{`zones[1].zone_file: `}},
	{"nonexistent geo database", "geo:\n  rules:", "geo:\n  database: nope.mmdb\n  rules:",
		[]string{`geo.database: `}},
	{"bad down response", "type: fallback", "type: nxdomain",
		[]string{`services[2].policy.down_response.type: unknown down response "nxdomain"`}},
	{"bad fallback address", "addresses: [192.0.2.99]", "addresses: [192.0.2.999]",
		[]string{`services[2].policy.down_response.addresses[0]: "192.0.2.999" is not an IP address`}},
	{"bad topology CIDR", "{cidrs: [10.0.0.0/8], sites: [eu-west]}", "{cidrs: [10.0.0.0/8, 10.0.0/8], sites: [eu-west]}",
		[]string{`services[3].policy.topology[0].cidrs[1]: "10.0.0/8" is not a CIDR prefix`}},
	{"topology site", "sites: [ap-south, us-east]", "sites: [ap-south, moon]",
		[]string{`services[3].policy.topology[1].sites[1]: unknown site "moon"`}},
	{"negative weight", "weight: 3", "weight: -1",
		[]string{`services[1].members[0].weight: must be between 0 (drain) and 4294967295, got -1`}},
	{"every weight 0", "weight: 3}\n      - {site: eu-west, addresses: [198.51.100.20], weight: 0}\n      - {site: ap-south, addresses: [203.0.113.20]}",
		"weight: 0}\n      - {site: eu-west, addresses: [198.51.100.20], weight: 0}\n      - {site: ap-south, addresses: [203.0.113.20], weight: 0}",
		[]string{`services[1].members: every member has weight 0, so the service would never be answered; give at least one member a weight`}},
	{"persistence mask", "ipv4_mask: 20", "ipv4_mask: 40",
		[]string{`services[1].policy.persistence.ipv4_mask: must be between 0 and 32, got 40`}},
	{"wrong type", "ttl: 30", "ttl: thirty",
		[]string{`services[0].policy.ttl: want a non-negative integer, got "thirty"`}},
	{"negative ttl", "ttl: 30", "ttl: -30",
		[]string{`services[0].policy.ttl: want a non-negative integer, got -30`}},
	{"duration without unit", "tcp_idle_timeout: 15s", "tcp_idle_timeout: 15",
		[]string{`dns.tcp_idle_timeout: want a duration with a unit such as "10s", got 15`}},
	{"bad duration", "tcp_idle_timeout: 15s", "tcp_idle_timeout: soon",
		[]string{`dns.tcp_idle_timeout: want a duration such as "10s", got "soon"`}},
	{"bad listen address", `listen: ["127.0.0.1:5353"]`, `listen: ["127.0.0.1"]`,
		[]string{`dns.listen[0]: want host:port, got "127.0.0.1"`}},
	{"bad log level", "level: info", "level: loud",
		[]string{`log.level: unknown level "loud"`}},
	{"bad log format", "format: text", "format: xml",
		[]string{`log.format: unknown format "xml"`}},
	{"site latitude", "{lat: 19.08, lon: 72.88,", "{lat: 119.08, lon: 72.88,",
		[]string{`sites[2].location.lat: latitude 119.08 is outside -90..90`}},
	{"site country", "country: IN,", "country: IND,",
		[]string{`sites[2].location.country: "IND" is not an ISO 3166-1 alpha-2 country code such as "IE"`}},
	{"site bias out of range", "  - name: eu-west\n", "  - name: eu-west\n    bias: 100\n",
		[]string{`sites[1].bias: bias 100 is out of range: it must be from -99 to 99`}},
	{"site bias not an integer", "  - name: eu-west\n", "  - name: eu-west\n    bias: 12.5\n",
		[]string{`sites[1].bias: want an integer, got 12.5`}},
	{"site bias as text", "  - name: eu-west\n", "  - name: eu-west\n    bias: lots\n",
		[]string{`sites[1].bias: want an integer, got "lots"`}},
	{"site bias misspelt", "  - name: eu-west\n", "  - name: eu-west\n    bais: 50\n",
		[]string{`sites[1].bais: unknown key (did you mean "bias"?)`}},
	{"nested list where a map belongs", "policy:\n      strategy: topology", "policy: [topology]\n    x:\n      strategy: topology",
		[]string{`services[3].policy: `, `services[3].x: unknown key`}},
	{"every error at once",
		"{site: us-east, addresses: [192.0.2.30], priority: 2}",
		"{site: nowhere, addresses: [192.0.2.300], priority: 2, wieght: 1}",
		// Unknown keys are found while decoding; semantic errors need a
		// decoded file, so a file with a typo reports only the typo.
		[]string{`services[2].members[1].wieght: unknown key (did you mean "weight"?)`}},
	{"several semantic errors at once",
		"{site: us-east, addresses: [192.0.2.30], priority: 2}",
		"{site: nowhere, addresses: [192.0.2.300], priority: 2}",
		[]string{
			`services[2].members[1].addresses[0]: "192.0.2.300" is not an IP address`,
			`services[2].members[1].site: unknown site "nowhere"`,
		}},
}

// TestBrokenConfigs breaks the good fixture one way at a time and wants
// exactly the listed error lines: the right field path, the reason, and no
// extra noise (a bad address must not also be "not an IP address" again).
func TestBrokenConfigs(t *testing.T) {
	for _, tc := range brokenCases {
		t.Run(tc.name, func(t *testing.T) {
			path := fixtureDir(t, replace(t, tc.old, tc.new))
			err := wantLoadErrors(t, path, tc.want)
			for _, e := range Leaves(err) {
				var fe *gslb.FieldError
				if !errors.As(e, &fe) {
					t.Errorf("%q is not a *gslb.FieldError", e)
				}
			}
		})
	}
}

func TestNonexistentGeoDatabaseNamesThePath(t *testing.T) {
	path := fixtureDir(t, replace(t, "geo:\n  rules:", "geo:\n  database: missing/nope.mmdb\n  rules:"))
	_, err := Load(Options{File: path})
	want := "geo.database: " + filepath.Join(filepath.Dir(path), "missing", "nope.mmdb") + ": no such file"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestYAMLSyntaxErrorNamesFileAndLine(t *testing.T) {
	path := fixtureDir(t, replace(t, "  level: info\n", "  level: [info\n"))
	_, err := Load(Options{File: path})
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "line") {
		t.Fatalf("got %v", err)
	}
}

func TestNoZones(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "empty.yaml"), "log: {level: debug}\n")
	_, err := Load(Options{File: filepath.Join(dir, "empty.yaml")})
	if err == nil || err.Error() != "zones: at least one zone is required" {
		t.Fatalf("got %v", err)
	}
}

func TestEnvOverride(t *testing.T) {
	t.Setenv("MERIDIAN_DNS_LISTEN", "127.0.0.1:5300, [::1]:5300")
	t.Setenv("MERIDIAN_HTTP_LISTEN", "127.0.0.1:9053")
	t.Setenv("MERIDIAN_LOG_LEVEL", "debug")
	t.Setenv("MERIDIAN_DNS_TCP_IDLE_TIMEOUT", "3s")
	l, err := Load(Options{File: goodFixture})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if !slices.Equal(c.DNS.Listen, []string{"127.0.0.1:5300", "[::1]:5300"}) || c.HTTP.Listen != "127.0.0.1:9053" ||
		c.Log.Level != "debug" || time.Duration(c.DNS.TCPIdleTimeout) != 3*time.Second {
		t.Errorf("environment not applied: dns %+v http %+v log %+v", c.DNS, c.HTTP, c.Log)
	}
	if c.Log.Format != "text" {
		t.Errorf("unset variable changed log.format to %q", c.Log.Format)
	}
}

func TestEnvOverrideIsValidated(t *testing.T) {
	t.Setenv("MERIDIAN_LOG_LEVEL", "chatty")
	_, err := Load(Options{File: goodFixture})
	if err == nil || !strings.HasPrefix(err.Error(), `log.level: unknown level "chatty"`) {
		t.Fatalf("got %v", err)
	}
}

// serveFlags parses serve-style override flags.
func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.StringSlice("dns-listen", nil, "")
	fs.String("http-listen", "", "")
	fs.String("log-level", "", "")
	fs.String("log-format", "", "")
	fs.String("geo-database", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestFlagOverride(t *testing.T) {
	// A flag beats the environment, which beats the file.
	t.Setenv("MERIDIAN_DNS_LISTEN", "127.0.0.1:5300")
	t.Setenv("MERIDIAN_LOG_FORMAT", "json")
	fs := serveFlags(t, "--dns-listen", "127.0.0.1:5400,127.0.0.2:5400", "--http-listen", "127.0.0.1:0", "--log-level", "warn")
	l, err := Load(Options{File: goodFixture, Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if !slices.Equal(c.DNS.Listen, []string{"127.0.0.1:5400", "127.0.0.2:5400"}) || c.HTTP.Listen != "127.0.0.1:0" || c.Log.Level != "warn" {
		t.Errorf("flags not applied: dns %+v http %+v log %+v", c.DNS, c.HTTP, c.Log)
	}
	if c.Log.Format != "json" {
		t.Errorf("an unset flag hid the environment: log.format = %q", c.Log.Format)
	}
}

func TestRelativePaths(t *testing.T) {
	// The config's geo database and zone file are relative to the config
	// file's directory, whatever the working directory is.
	dir := t.TempDir()
	copyFile(t, "../testdata/demo/demo.mmdb", filepath.Join(dir, "geo", "demo.mmdb"))
	copyFile(t, "testdata/zones/static.example.zone", filepath.Join(dir, "zones", "static.example.zone"))
	b, _ := os.ReadFile(goodFixture)
	text := strings.Replace(string(b), "geo:\n  rules:", "geo:\n  database: geo/demo.mmdb\n  rules:", 1)
	cfg := filepath.Join(dir, "conf.yaml")
	writeFile(t, cfg, text)
	t.Chdir(t.TempDir()) // anywhere but the config's directory

	l, err := Load(Options{File: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Config.Geo.Database, filepath.Join(dir, "geo", "demo.mmdb"); got != want {
		t.Errorf("geo.database = %q, want %q", got, want)
	}
	if got, want := l.Config.Zones[1].ZoneFile, filepath.Join(dir, "zones", "static.example.zone"); got != want {
		t.Errorf("zone_file = %q, want %q", got, want)
	}
	if l.db == nil || l.Locator == nil {
		t.Error("database not opened")
	}
	if !slices.Contains(l.Watch, l.Config.Geo.Database) || !slices.Contains(l.Watch, l.Config.Zones[1].ZoneFile) {
		t.Errorf("watch list %v misses the database or the zone file", l.Watch)
	}

	// A relative path from the environment is relative to the working
	// directory, as a shell user means it.
	wd := t.TempDir()
	copyFile(t, filepath.Join(dir, "geo", "demo.mmdb"), filepath.Join(wd, "other.mmdb"))
	t.Chdir(wd)
	t.Setenv("MERIDIAN_GEO_DATABASE", "other.mmdb")
	l2, err := Load(Options{File: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l2.Config.Geo.Database, filepath.Join(wd, "other.mmdb"); got != want {
		t.Errorf("geo.database from the environment = %q, want %q", got, want)
	}
}

func TestDemoConfig(t *testing.T) {
	l, err := Load(Options{File: "../testdata/demo/meridian.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if l.db == nil {
		t.Error("demo database not opened")
	}
	if got := l.Summary(); got != "1 zones, 3 sites, 5 services" {
		t.Errorf("summary = %q", got)
	}
}

func TestJSONAndTOMLConfigs(t *testing.T) {
	dir := t.TempDir()
	js := `{"dns": {"listen": ["127.0.0.1:5353"], "tcp_idle_timeout": "5s"},
 "zones": [{"name": "j.example.", "nameservers": [{"name": "ns.elsewhere.example."}]}],
 "sites": [{"name": "a"}],
 "services": [{"name": "www.j.example.", "members": [{"site": "a", "addresses": ["192.0.2.1"], "weight": 0}, {"site": "a", "addresses": ["192.0.2.2"]}]}]}`
	toml := `[dns]
listen = ["127.0.0.1:5353"]
tcp_idle_timeout = "5s"

[[zones]]
name = "t.example."
[[zones.nameservers]]
name = "ns.elsewhere.example."

[[sites]]
name = "a"

[[services]]
name = "www.t.example."
[[services.members]]
site = "a"
addresses = ["192.0.2.1"]
weight = 0
[[services.members]]
site = "a"
addresses = ["192.0.2.2"]
`
	for name, text := range map[string]string{"c.json": js, "c.toml": toml} {
		path := filepath.Join(dir, name)
		writeFile(t, path, text)
		l, err := Load(Options{File: path})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if w := l.State.Services[0].Members[0].Weight; w != 0 || time.Duration(l.Config.DNS.TCPIdleTimeout) != 5*time.Second {
			t.Errorf("%s: weight %d, idle %v", name, w, l.Config.DNS.TCPIdleTimeout)
		}
	}
	// JSON is decoded as strictly as YAML.
	path := filepath.Join(dir, "typo.json")
	writeFile(t, path, strings.Replace(js, `"weight"`, `"wieght"`, 1))
	if _, err := Load(Options{File: path}); err == nil || !strings.HasPrefix(err.Error(), "services[0].members[0].wieght: unknown key") {
		t.Errorf("typo in JSON: %v", err)
	}
}

func TestConfigStringIsJSON(t *testing.T) {
	l, err := Load(Options{File: goodFixture})
	if err != nil {
		t.Fatal(err)
	}
	s := l.Config.String()
	if !strings.HasPrefix(s, `{"dns":{"listen":["127.0.0.1:5353"],"tcp_idle_timeout":"15s"`) {
		t.Errorf("String() = %s", s)
	}
}

func TestSuggest(t *testing.T) {
	for k, want := range map[string]string{"strategyy": "strategy", "adresses": "addresses", "zzz": "", "wieght": "weight", "tl": "ttl"} {
		if got := suggest(k, []string{"strategy", "addresses", "weight", "ttl", "ttl2"}); got != want {
			t.Errorf("suggest(%q) = %q, want %q", k, got, want)
		}
	}
}

// TestSameConfig: two loads of one file serve the same; a change of a
// zone file alone is a change, though the config file did not change.
func TestSameConfig(t *testing.T) {
	path := fixtureDir(t, nil)
	a := mustLoad(t, path)
	b := mustLoad(t, path)
	if !a.Same(b) {
		t.Error("two loads of one file differ")
	}
	zf := filepath.Join(filepath.Dir(path), "zones", "static.example.zone")
	zb, err := os.ReadFile(zf)
	must(t, err)
	writeFile(t, zf, string(zb)+"api IN A 192.0.2.81\n")
	c := mustLoad(t, path)
	if a.Same(c) {
		t.Error("a changed zone file went unnoticed")
	}
}
