package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// HealthConfig is the top-level health key: how the probes' verdicts are
// combined and the check of services that have none of their own.
type HealthConfig struct {
	// Rule combines the observations of the probe sources (this site's
	// probes, later the other sites'): local, any, majority or all.
	Rule string `mapstructure:"rule" json:"rule"`
	// Concurrency bounds the probes in flight at once.
	Concurrency int `mapstructure:"concurrency" json:"concurrency"`
	// SourceTTL is how long a source that left still counts.
	SourceTTL Duration `mapstructure:"source_ttl" json:"source_ttl"`
	// DefaultCheck is the check of every service without health_check.
	DefaultCheck *HealthCheckConfig `mapstructure:"default_check" json:"default_check,omitempty"`
}

// HealthCheckConfig is services[].health_check and health.default_check,
// decoded into a health.Check. Zero values take health.Check's defaults.
type HealthCheckConfig struct {
	Kind          string      `mapstructure:"kind" json:"kind,omitempty"`
	Port          uint16      `mapstructure:"port" json:"port,omitempty"`
	Path          string      `mapstructure:"path" json:"path,omitempty"`
	Method        string      `mapstructure:"method" json:"method,omitempty"`
	Host          string      `mapstructure:"host" json:"host,omitempty"`
	SNI           string      `mapstructure:"sni" json:"sni,omitempty"`
	ExpectStatus  StatusCodes `mapstructure:"expect_status" json:"expect_status,omitempty"`
	BodyContains  string      `mapstructure:"body_contains" json:"body_contains,omitempty"`
	TLSSkipVerify bool        `mapstructure:"tls_skip_verify" json:"tls_skip_verify,omitempty"`
	CAFile        string      `mapstructure:"ca_file" json:"ca_file,omitempty"`
	Interval      Duration    `mapstructure:"interval" json:"interval,omitempty"`
	Timeout       Duration    `mapstructure:"timeout" json:"timeout,omitempty"`
	Rise          int         `mapstructure:"rise" json:"rise,omitempty"`
	Fall          int         `mapstructure:"fall" json:"fall,omitempty"`
	Jitter        Text        `mapstructure:"jitter" json:"jitter,omitempty"`
}

// StatusCodes is expect_status: a list of codes and ranges
// ([200, "300-399"]) or one string ("200-399, 404").
type StatusCodes []string

// Text is a string the file may write as a number: jitter: 0.1 and
// jitter: "10%" are both fine.
type Text string

// AdminConfig is the admin key: the bearer token of the admin API and the
// operator overrides kept in the file.
type AdminConfig struct {
	// TokenFile holds the admin API's bearer token (relative to the
	// config file's directory); Token is the same inline. One or neither:
	// without a token the admin API is disabled.
	TokenFile string `mapstructure:"token_file" json:"token_file,omitempty"`
	Token     string `mapstructure:"token" json:"token,omitempty"`
	// Sites maps a site name to a mode: none, up, down or drain.
	Sites map[string]string `mapstructure:"sites" json:"sites,omitempty"`
	// Members are overrides of single members.
	Members []AdminMemberConfig `mapstructure:"members" json:"members,omitempty"`
}

// AdminMemberConfig overrides one member of one service.
type AdminMemberConfig struct {
	Service string `mapstructure:"service" json:"service"`
	Member  string `mapstructure:"member" json:"member"` // its ID, "site/first-address" or "site/hostname"
	Mode    string `mapstructure:"mode" json:"mode"`
}

const (
	redacted          = "REDACTED"
	minTokenLength    = 16
	maxConcurrency    = 65536
	defaultHealthRule = health.RuleMajority
)

// applyHealthDefaults fills the health settings that were left out.
func (c *Config) applyHealthDefaults() {
	if c.Health.Rule == "" {
		c.Health.Rule = string(defaultHealthRule)
	}
	c.Health.Rule = strings.ToLower(strings.TrimSpace(c.Health.Rule))
	if c.Health.Concurrency == 0 {
		c.Health.Concurrency = health.DefaultConcurrency
	}
	if c.Health.SourceTTL == 0 {
		c.Health.SourceTTL = Duration(health.DefaultSourceTTL)
	}
}

// checkHealthSettings checks the top-level health settings.
func (c *Config) checkHealthSettings(p *problems) {
	if _, err := health.ParseRule(c.Health.Rule); err != nil {
		p.add("health.rule", "%v", err)
	}
	if c.Health.Concurrency < 0 || c.Health.Concurrency > maxConcurrency {
		p.add("health.concurrency", "must be between 1 and %d, got %d", maxConcurrency, c.Health.Concurrency)
	}
	if c.Health.SourceTTL < 0 {
		p.add("health.source_ttl", "must not be negative")
	}
}

// healthSettings are the health settings that need a restart.
type healthSettings struct {
	Rule        string   `json:"rule"`
	Concurrency int      `json:"concurrency"`
	SourceTTL   Duration `json:"source_ttl"`
}

func (c *Config) healthSettings() healthSettings {
	return healthSettings{Rule: c.Health.Rule, Concurrency: c.Health.Concurrency, SourceTTL: c.Health.SourceTTL}
}

// applyHealthChecks puts every service's health_check (or the default
// check) into st, validated, with the members' probe ports: the State
// then says how it is probed, at this site and at every other. st must
// have its defaults applied (canonical names); call it before
// st.Validate, which checks the members' probe settings against it.
func (c *Config) applyHealthChecks(st *gslb.State, p *problems) {
	var def *gslb.HealthCheck
	if c.Health.DefaultCheck != nil {
		if spec, ok := c.Health.DefaultCheck.toSpec(p, "health.default_check"); ok {
			def = &spec
		}
	}
	for i := range c.Services {
		if i >= len(st.Services) {
			break
		}
		sc, svc := &c.Services[i], &st.Services[i]
		switch {
		case sc.HealthCheck != nil:
			if spec, ok := sc.HealthCheck.toSpec(p, fmt.Sprintf("services[%d].health_check", i)); ok {
				svc.HealthCheck = &spec
			} else {
				// Reported; a placeholder keeps Validate from adding
				// "no health check" to the members' probe settings.
				svc.HealthCheck = &gslb.HealthCheck{Kind: string(health.KindTCP)}
			}
		case def != nil:
			spec := *def
			spec.ExpectStatus = slices.Clone(def.ExpectStatus)
			svc.HealthCheck = &spec
		case c.Health.DefaultCheck != nil:
			// a broken default, reported once above
			svc.HealthCheck = &gslb.HealthCheck{Kind: string(health.KindTCP)}
		}
		for j := range sc.Members {
			if j < len(svc.Members) {
				svc.Members[j].ProbePort = sc.Members[j].ProbePort
			}
		}
	}
}

// toSpec converts one check into the State's form, validated with the
// health package's rules. Its problems are reported under path; ok is
// false when there were any.
func (h *HealthCheckConfig) toSpec(p *problems, path string) (gslb.HealthCheck, bool) {
	chk, ok := h.toCheck(p, path)
	if !ok {
		return gslb.HealthCheck{}, false
	}
	return gslb.HealthCheck{
		Kind:          string(chk.Kind),
		Port:          chk.Port,
		Interval:      chk.Interval,
		Timeout:       chk.Timeout,
		Rise:          chk.Rise,
		Fall:          chk.Fall,
		Jitter:        strings.TrimSpace(string(h.Jitter)),
		Method:        chk.Method,
		Path:          chk.Path,
		Host:          chk.Host,
		ExpectStatus:  slices.Clone([]string(h.ExpectStatus)),
		BodyContains:  chk.BodyContains,
		SNI:           chk.SNI,
		TLSSkipVerify: chk.TLSSkipVerify,
		CAPEM:         chk.CAPEM,
	}, true
}

// toCheck converts one check. Its problems are reported under path; ok
// is false when there were any.
func (h *HealthCheckConfig) toCheck(p *problems, path string) (health.Check, bool) {
	n := len(p.list)
	c := health.Check{
		Kind:          health.Kind(strings.ToLower(strings.TrimSpace(h.Kind))),
		Port:          h.Port,
		Interval:      time.Duration(h.Interval),
		Timeout:       time.Duration(h.Timeout),
		Rise:          h.Rise,
		Fall:          h.Fall,
		Method:        h.Method,
		Path:          h.Path,
		Host:          h.Host,
		SNI:           h.SNI,
		BodyContains:  h.BodyContains,
		TLSSkipVerify: h.TLSSkipVerify,
	}
	if !slices.Contains(health.Kinds, c.Kind) && c.Kind != "" {
		// The other fields cannot be judged for an unknown kind.
		p.add(path+".kind", "must be one of %v, got %q", health.Kinds, h.Kind)
		return health.Check{}, false
	}
	var origin []int // the expect_status item of each range, for error paths
	for k, s := range h.ExpectStatus {
		rs, err := health.ParseStatusRanges(s)
		if err != nil || len(rs) == 0 {
			p.add(fmt.Sprintf("%s.expect_status[%d]", path, k), "want a code (200) or a range (200-399), got %q", s)
			continue
		}
		c.ExpectStatus = append(c.ExpectStatus, rs...)
		for range rs {
			origin = append(origin, k)
		}
	}
	if h.Jitter != "" {
		j, err := health.ParseJitter(string(h.Jitter))
		if err != nil {
			p.add(path+".jitter", "want a percentage (10%%), a fraction (0.1), a duration (250ms) or 0, got %q", h.Jitter)
		}
		c.Jitter = j
	}
	if h.CAFile != "" {
		// The CA is read now, into the check itself: a changed file then
		// makes a different check (a new target), and the file is watched
		// like the configuration.
		b, err := os.ReadFile(h.CAFile)
		switch {
		case err != nil:
			p.add(path+".ca_file", "%s: %v", h.CAFile, statReason(err))
		case !x509.NewCertPool().AppendCertsFromPEM(b):
			p.add(path+".ca_file", "%s holds no PEM certificate", h.CAFile)
		default:
			c.CAPEM = string(b)
		}
	}
	if c.Interval < 0 || c.Timeout < 0 {
		// Defaults would keep a negative value; say it plainly.
		if c.Interval < 0 {
			p.add(path+".interval", "must not be negative")
		}
		if c.Timeout < 0 {
			p.add(path+".timeout", "must not be negative")
		}
		return health.Check{}, false
	}
	probe := c
	probe.ExpectStatus = slices.Clone(c.ExpectStatus)
	probe.Defaults()
	if err := probe.Validate(); err != nil {
		for _, e := range leaves(err) {
			msg := e.Error()
			var fe *gslb.FieldError
			if errors.As(e, &fe) {
				field := strings.Replace(fe.Path, "ca_pem", "ca_file", 1)
				var k int
				if _, err := fmt.Sscanf(field, "expect_status[%d]", &k); err == nil && k < len(origin) {
					field = fmt.Sprintf("expect_status[%d]", origin[k])
				}
				p.add(path+"."+field, "%s", fe.Msg)
				continue
			}
			p.add(path, "%s", msg)
		}
	}
	return c, len(p.list) == n
}

// adminOverrides converts admin.sites and admin.members, which must name
// configured sites, services and members. st must have its defaults
// applied.
func (c *Config) adminOverrides(st *gslb.State, p *problems) gslb.Admin {
	a := gslb.Admin{Sites: map[string]gslb.AdminMode{}, Members: map[gslb.MemberRef]gslb.AdminMode{}}
	names := make([]string, 0, len(c.Admin.Sites))
	for name := range c.Admin.Sites {
		names = append(names, name)
	}
	slices.Sort(names) // errors in a stable order
	for _, name := range names {
		path := "admin.sites." + name
		site := findSite(st, name)
		mode, ok := gslb.ParseAdminMode(strings.ToLower(strings.TrimSpace(c.Admin.Sites[name])))
		switch {
		case site == "":
			p.add(path, "unknown site %q", name)
		case !ok:
			p.add(path, "unknown mode %q (want one of %v)", c.Admin.Sites[name], adminModes)
		default:
			a.Sites[site] = mode
		}
	}
	for i, m := range c.Admin.Members {
		path := fmt.Sprintf("admin.members[%d]", i)
		mode, ok := gslb.ParseAdminMode(strings.ToLower(strings.TrimSpace(m.Mode)))
		if !ok {
			p.add(path+".mode", "unknown mode %q (want one of %v)", m.Mode, adminModes)
		}
		ref, err := findMember(st, m.Service, m.Member)
		if err != nil {
			p.add(path+"."+err.field, "%s", err.msg)
			continue
		}
		if ok {
			a.Members[ref] = mode
		}
	}
	return a
}

var adminModes = []string{"none", "up", "down", "drain"}

// findSite returns the configured name of site, matched exactly or else
// case-insensitively (the file's map keys may have been lower-cased), or
// "".
func findSite(st *gslb.State, name string) string {
	for _, s := range st.Sites {
		if s.Name == name {
			return s.Name
		}
	}
	for _, s := range st.Sites {
		if strings.EqualFold(s.Name, name) {
			return s.Name
		}
	}
	return ""
}

// refError names the field of a reference that does not resolve.
type refError struct{ field, msg string }

// findMember resolves a service name (any case, with or without the final
// dot) and a member ID within it.
func findMember(st *gslb.State, service, member string) (gslb.MemberRef, *refError) {
	name := gslb.CanonicalName(service)
	for i := range st.Services {
		svc := &st.Services[i]
		if svc.Name != name {
			continue
		}
		ids := make([]string, 0, len(svc.Members))
		for j := range svc.Members {
			id := svc.Members[j].ID()
			if id == member || strings.EqualFold(id, strings.TrimSpace(member)) {
				return gslb.MemberRef{Service: svc.Name, Member: id}, nil
			}
			ids = append(ids, id)
		}
		return gslb.MemberRef{}, &refError{field: "member", msg: fmt.Sprintf("service %s has no member %q (its members: %s)", svc.Name, member, strings.Join(ids, ", "))}
	}
	return gslb.MemberRef{}, &refError{field: "service", msg: fmt.Sprintf("unknown service %q", service)}
}

// adminToken reads the admin API token from admin.token or
// admin.token_file; "" disables the admin API.
func (c *Config) adminToken(p *problems) string {
	a := c.Admin
	var tok, path string
	switch {
	case a.Token != "" && a.TokenFile != "":
		p.add("admin", "give token_file or token, not both")
		return ""
	case a.TokenFile != "":
		path = "admin.token_file"
		b, err := os.ReadFile(a.TokenFile)
		if err != nil {
			p.add(path, "%s: %v", a.TokenFile, statReason(err))
			return ""
		}
		tok = strings.TrimSpace(string(b))
	case a.Token != "":
		path, tok = "admin.token", strings.TrimSpace(a.Token)
	default:
		return ""
	}
	switch {
	case tok == "":
		p.add(path, "the token is empty")
	case len(tok) < minTokenLength:
		p.add(path, "the token must be at least %d characters, got %d", minTokenLength, len(tok))
	case strings.ContainsAny(tok, " \t\r\n"):
		p.add(path, "the token must be one word (no spaces or line breaks)")
	default:
		return tok
	}
	return ""
}

// resolveHealthPaths makes the health and admin file paths absolute,
// relative to the config file's directory. Called by resolvePaths.
func (c *Config) resolveHealthPaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Admin.TokenFile)
	if c.Health.DefaultCheck != nil {
		abs(&c.Health.DefaultCheck.CAFile)
	}
	for i := range c.Services {
		if hc := c.Services[i].HealthCheck; hc != nil {
			abs(&hc.CAFile)
		}
	}
}

// healthFiles are the files besides the configuration whose change
// reloads it: the admin token and the CA files of checks.
func (c *Config) healthFiles() []string {
	var files []string
	if c.Admin.TokenFile != "" {
		files = append(files, c.Admin.TokenFile)
	}
	if dc := c.Health.DefaultCheck; dc != nil && dc.CAFile != "" {
		files = append(files, dc.CAFile)
	}
	for i := range c.Services {
		if hc := c.Services[i].HealthCheck; hc != nil && hc.CAFile != "" {
			files = append(files, hc.CAFile)
		}
	}
	return files
}

var (
	statusCodesType = reflect.TypeOf(StatusCodes(nil))
	textType        = reflect.TypeOf(Text(""))
)

// statusCodesHook reads expect_status as a list of codes and ranges, or
// one string or code: 200, "200-399", [200, "300-399"].
func statusCodesHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != statusCodesType || data == nil {
		return data, nil
	}
	item := func(v any) (string, error) {
		switch x := v.(type) {
		case string:
			return x, nil
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			return fmt.Sprint(x), nil
		case float64:
			if x == float64(int(x)) {
				return strconv.Itoa(int(x)), nil
			}
		}
		return "", fmt.Errorf("want status codes such as 200 or \"200-399\", got %v", v)
	}
	switch v := data.(type) {
	case StatusCodes:
		return v, nil
	case []any:
		out := make(StatusCodes, 0, len(v))
		for _, e := range v {
			s, err := item(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		return StatusCodes(v), nil
	default:
		s, err := item(v)
		if err != nil {
			return nil, err
		}
		return StatusCodes{s}, nil
	}
}

// textHook lets a number stand for a Text value.
func textHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if to != textType || data == nil {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return Text(v), nil
	case float64:
		return Text(strconv.FormatFloat(v, 'g', -1, 64)), nil
	case float32:
		return Text(strconv.FormatFloat(float64(v), 'g', -1, 32)), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return Text(fmt.Sprint(v)), nil
	}
	return nil, fmt.Errorf("want a string or a number, got %v", data)
}
