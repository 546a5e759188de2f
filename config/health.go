package config

import (
	"crypto/x509"
	"errors"
	"slices"
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
	// Prometheus is where load.prometheus queries are evaluated.
	Prometheus PrometheusConfig `mapstructure:"prometheus" json:"prometheus"`
}

// HealthCheckConfig is services[].health_check and health.default_check,
// decoded into a gslb.HealthCheck. Zero values take its defaults
// (gslb.HealthCheck.Defaults).
type HealthCheckConfig struct {
	Kind          string      `mapstructure:"kind" json:"kind,omitempty"`
	Port          uint16      `mapstructure:"port" json:"port,omitempty"`
	Path          string      `mapstructure:"path" json:"path,omitempty"`
	Method        string      `mapstructure:"method" json:"method,omitempty"`
	Host          string      `mapstructure:"host" json:"host,omitempty"`
	SNI           string      `mapstructure:"sni" json:"sni,omitempty"`
	ExpectStatus  StatusCodes `mapstructure:"expect_status" json:"expect_status,omitempty"`
	BodyContains  string      `mapstructure:"body_contains" json:"body_contains,omitempty"`
	LoadFrom      string      `mapstructure:"load_from" json:"load_from,omitempty"`
	TLSSkipVerify bool        `mapstructure:"tls_skip_verify" json:"tls_skip_verify,omitempty"`
	CAFile        string      `mapstructure:"ca_file" json:"ca_file,omitempty"`
	Interval      Duration    `mapstructure:"interval" json:"interval,omitempty"`
	FastInterval  Duration    `mapstructure:"fast_interval" json:"fast_interval,omitempty"`
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
	c.Health.Prometheus.applyDefaults()
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
	c.Health.Prometheus.check(p)
	c.checkPrometheusQueries(p)
}

// HealthSettings are the health settings that need a restart.
type HealthSettings struct {
	Rule        string           `json:"rule"`
	Concurrency int              `json:"concurrency"`
	SourceTTL   Duration         `json:"source_ttl"`
	Prometheus  PrometheusConfig `json:"prometheus"`
}

// HealthSettings are the health settings in force.
func (c *Config) HealthSettings() HealthSettings {
	return HealthSettings{Rule: c.Health.Rule, Concurrency: c.Health.Concurrency, SourceTTL: c.Health.SourceTTL, Prometheus: c.Health.Prometheus}
}

// applyHealthChecks puts every service's health_check (or the default
// check) into st, validated, with the members' probe ports: the State
// then says how it is probed, at this site and at every other. st must
// have its defaults applied (canonical names); call it before
// st.Validate, which checks the members' probe settings against it. It
// returns the default check, nil when there is none or it is broken.
func (c *Config) applyHealthChecks(st *gslb.State, p *problems, same []bool) *gslb.HealthCheck {
	var def *gslb.HealthCheck
	if c.Health.DefaultCheck != nil {
		if spec, ok := c.Health.DefaultCheck.toSpec(p, "health.default_check"); ok {
			def = &spec
		}
	}
	var pc gslb.Pacer
	for i := range c.Services {
		pc.Step()
		if i >= len(st.Services) {
			break
		}
		if same != nil && same[i] {
			continue // decoding.reuseServices fills it in
		}
		sc, svc := &c.Services[i], &st.Services[i]
		switch {
		case sc.HealthCheck != nil:
			if spec, ok := sc.HealthCheck.toSpec(p, indexPath("services", i)+".health_check"); ok {
				svc.HealthCheck = &spec
			} else {
				// Reported; a placeholder that passes the rule keeps
				// Validate from adding "no health check" to the members'
				// probe settings or repeating the check's problems.
				svc.HealthCheck = brokenCheckPlaceholder()
			}
		case def != nil:
			// One check shared by every such service: a State is never
			// changed once loaded, and a copy each took 36 MB at 100k.
			svc.HealthCheck = def
		case c.Health.DefaultCheck != nil:
			// a broken default, reported once above
			svc.HealthCheck = brokenCheckPlaceholder()
		}
		for j := range sc.Members {
			if j < len(svc.Members) {
				svc.Members[j].ProbePort = sc.Members[j].ProbePort
			}
		}
	}
	return def
}

// brokenCheckPlaceholder stands for a check already reported as broken;
// the load fails, so it is never probed.
func brokenCheckPlaceholder() *gslb.HealthCheck {
	return &gslb.HealthCheck{Kind: gslb.CheckTCP, Port: 1}
}

// toSpec builds one check in the State's form, as written in the file
// (ca_file read into ca_pem), and judges it by gslb's rules
// (HealthCheck.Defaults and Validate: the same rules the Kubernetes
// policies and followers apply). Its problems are reported under path
// with the file's names; ok is false when there were any.
func (h *HealthCheckConfig) toSpec(p *problems, path string) (gslb.HealthCheck, bool) {
	n := len(p.list)
	spec := gslb.HealthCheck{
		Kind:          strings.ToLower(strings.TrimSpace(h.Kind)),
		Port:          h.Port,
		Interval:      time.Duration(h.Interval),
		FastInterval:  time.Duration(h.FastInterval),
		Timeout:       time.Duration(h.Timeout),
		Rise:          h.Rise,
		Fall:          h.Fall,
		Jitter:        strings.TrimSpace(string(h.Jitter)),
		Method:        h.Method,
		Path:          h.Path,
		Host:          h.Host,
		ExpectStatus:  slices.Clone([]string(h.ExpectStatus)),
		BodyContains:  h.BodyContains,
		LoadFrom:      h.LoadFrom,
		SNI:           h.SNI,
		TLSSkipVerify: h.TLSSkipVerify,
	}
	caReported := false
	if h.CAFile != "" {
		// The CA is read now, into the check itself: a changed file then
		// makes a different check (a new target), and the file is watched
		// like the configuration.
		b, ok := p.readFile(path+".ca_file", h.CAFile)
		switch {
		case !ok:
			caReported = true
		case !x509.NewCertPool().AppendCertsFromPEM(b):
			p.add(path+".ca_file", "%s holds no PEM certificate", h.CAFile)
			caReported = true
		default:
			spec.CAPEM = string(b)
		}
	}
	if spec.Interval < 0 || spec.FastInterval < 0 || spec.Timeout < 0 {
		// Defaults would keep a negative value; say it plainly.
		for _, d := range []struct {
			field string
			v     time.Duration
		}{{"interval", spec.Interval}, {"fast_interval", spec.FastInterval}, {"timeout", spec.Timeout}} {
			if d.v < 0 {
				p.add(path+"."+d.field, "must not be negative")
			}
		}
		return gslb.HealthCheck{}, false
	}
	probe := spec.Clone()
	probe.Defaults()
	for _, e := range Leaves(probe.Validate()) {
		var fe *gslb.FieldError
		if !errors.As(e, &fe) {
			p.add(path, "%s", e.Error())
			continue
		}
		field := fe.Path
		if field == "ca_pem" {
			if caReported {
				continue
			}
			field = "ca_file" // the file's name for it
		}
		p.add(path+"."+field, "%s", fe.Msg)
	}
	return spec, len(p.list) == n
}
