package kube

import (
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// A policy's healthCheck is a template: its set fields override the check
// underneath (the config's default check, then the GlobalPolicy's). The
// limits are gslb's (gslb.HealthCheck.Validate, through judgeService):
// this file only reads the spec's text into gslb's types.

// compiledHealthCheck is a policy's healthCheck with its durations read.
type compiledHealthCheck struct {
	spec         HealthCheckSpec
	interval     time.Duration
	fastInterval time.Duration
	timeout      time.Duration
}

// compileHealthCheck reads the durations; everything else is judged on
// the resulting gslb.HealthCheck.
func compileHealthCheck(h *HealthCheckSpec, errs *problems) *compiledHealthCheck {
	c := &compiledHealthCheck{spec: *h}
	c.spec.ExpectStatus = append([]string(nil), h.ExpectStatus...)
	read := func(field, s string) time.Duration {
		return readDuration("spec.healthCheck."+field, s, errs)
	}
	c.interval = read("interval", h.Interval)
	c.fastInterval = read("fastInterval", h.FastInterval)
	c.timeout = read("timeout", h.Timeout)
	return c
}

// readDuration reads the duration at path; "" is unset (0), and one that
// does not parse or is not positive is reported and read as unset.
func readDuration(path, s string, errs *problems) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		errs.add(path, "%q is not a positive duration such as 5s or 500ms", s)
		return 0
	}
	return d
}

// probes reports whether a service under this policy is probed, as far as
// the policy says: not when it sets kind none.
func (c *compiledFields) probes() bool {
	return c.hc == nil || gslb.CheckKind(c.hc.spec.Kind) != gslb.CheckNone
}

// applyHealthCheck overlays the template on hc (nil: no check yet) and
// returns the result, a new value. A template that changes the kind does
// not inherit the fields the new kind ignores (a tcp template over an http
// default drops its path): those would make the check invalid although
// the policy never set them. Fields the template sets itself are kept, so
// that a path on a tcp check is reported.
func (c *compiledFields) applyHealthCheck(hc *gslb.HealthCheck) *gslb.HealthCheck {
	if c.hc == nil {
		return hc.Clone()
	}
	out := hc.Clone()
	if out == nil {
		out = &gslb.HealthCheck{}
	}
	h := &c.hc.spec
	if kind := gslb.CheckKind(h.Kind); h.Kind != "" && kind != gslb.CheckKind(out.Kind) {
		dropInapplicable(out, kind)
		out.Kind = kind
	}
	if out.Kind == "" {
		out.Kind = gslb.CheckTCP
	}
	if h.Port != nil {
		out.Port = uint16(*h.Port)
	}
	setString(&out.Path, h.Path)
	setString(&out.Method, h.Method)
	setString(&out.Host, h.Host)
	setString(&out.SNI, h.SNI)
	setString(&out.BodyContains, h.BodyContains)
	setString(&out.CAPEM, h.CAPEM)
	setString(&out.Jitter, h.Jitter)
	setString(&out.LoadFrom, h.LoadFrom)
	if len(h.ExpectStatus) > 0 {
		out.ExpectStatus = append([]string(nil), h.ExpectStatus...)
	}
	setIf(&out.TLSSkipVerify, h.TLSSkipVerify)
	if c.hc.interval > 0 {
		out.Interval = c.hc.interval
	}
	if c.hc.fastInterval > 0 {
		out.FastInterval = c.hc.fastInterval
	}
	if c.hc.timeout > 0 {
		out.Timeout = c.hc.timeout
	}
	setIf(&out.Rise, intPtr(h.Rise))
	setIf(&out.Fall, intPtr(h.Fall))
	return out
}

func setString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// dropInapplicable clears the fields an inherited check had that a check
// of kind does not take.
func dropInapplicable(hc *gslb.HealthCheck, kind string) {
	if kind != gslb.CheckHTTPS {
		hc.SNI, hc.TLSSkipVerify, hc.CAPEM = "", false, ""
	}
	if kind != gslb.CheckHTTP && kind != gslb.CheckHTTPS {
		hc.Method, hc.Path, hc.Host, hc.ExpectStatus, hc.BodyContains, hc.LoadFrom = "", "", "", nil, "", ""
	}
}

// healthCheckFields maps gslb.HealthCheck's json names (FieldError paths
// relative to the check) to HealthCheckSpec's.
var healthCheckFields = map[string]string{
	"expect_status":   "expectStatus",
	"fast_interval":   "fastInterval",
	"body_contains":   "bodyContains",
	"load_from":       "loadFrom",
	"tls_skip_verify": "tlsSkipVerify",
	"ca_pem":          "caPEM",
}
