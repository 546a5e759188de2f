package health

import (
	"crypto/x509"
	"errors"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// Kind is what a probe does.
type Kind string

// The probe kinds: gslb's, typed.
const (
	KindTCP   Kind = gslb.CheckTCP   // a TCP connect, then close
	KindHTTP  Kind = gslb.CheckHTTP  // an HTTP/1.1 request over a fresh connection
	KindHTTPS Kind = gslb.CheckHTTPS // the same over TLS, with SNI and verification
	KindNone  Kind = gslb.CheckNone  // no probe: always up
)

// BodyLimit is how much of a response is searched for BodyContains: the
// longest BodyContains the rule allows.
const BodyLimit = gslb.MaxCheckBodyContains

// Check is health's compiled form of a gslb.HealthCheck: defaulted,
// validated, its texts parsed. Build it with Compile. Its rules (defaults,
// limits, messages) are gslb.HealthCheck's: health only interprets them.
// Field names in JSON are the snake_case names of the configuration file.
type Check struct {
	Kind Kind `json:"kind"`
	// Port is the port probed. Plan uses it for every member address; a
	// member's ProbePort or a PlanOptions.ProbeAddr hook may change it.
	Port uint16 `json:"port,omitempty"`

	Interval time.Duration `json:"interval"`
	// FastInterval is the interval while the target is in doubt (see
	// tracker.inDoubt); equal to Interval, there is no fast re-probe.
	FastInterval time.Duration `json:"fast_interval"`
	Timeout      time.Duration `json:"timeout"`
	Rise         int           `json:"rise"`
	Fall         int           `json:"fall"`
	Jitter       Jitter        `json:"jitter"`

	// HTTP and HTTPS only.
	Method       string        `json:"method,omitempty"`
	Path         string        `json:"path,omitempty"`
	Host         string        `json:"host,omitempty"`
	ExpectStatus []StatusRange `json:"expect_status,omitempty"`
	BodyContains string        `json:"body_contains,omitempty"`
	// LoadFrom is where a successful probe reads the member's load, in
	// its canonical text ("header:X-Load", "json:stats.cpu", "body"); ""
	// reads none. loadFrom is it parsed.
	LoadFrom string `json:"load_from,omitempty"`
	loadFrom gslb.LoadFrom

	// HTTPS only. Without CAPEM the system roots verify the server;
	// TLSSkipVerify turns verification off.
	SNI           string `json:"sni,omitempty"`
	TLSSkipVerify bool   `json:"tls_skip_verify,omitempty"`
	CAPEM         string `json:"ca_pem,omitempty"`
}

// Compile applies gslb's rule to a copy of hc (Defaults, then Validate)
// and returns what to probe with. Its error joins the rule's
// *gslb.FieldError values, paths relative to the check.
func Compile(hc *gslb.HealthCheck) (Check, error) {
	spec := hc.Clone()
	spec.Defaults()
	if err := spec.Validate(); err != nil {
		return Check{}, err
	}
	// A validated check parses: CheckFromSpec cannot fail here.
	return CheckFromSpec(spec)
}

// Spec is c in gslb's form: the inverse of Compile for a compiled check.
func (c *Check) Spec() gslb.HealthCheck {
	hc := gslb.HealthCheck{
		Kind:          string(c.Kind),
		Port:          c.Port,
		Interval:      c.Interval,
		FastInterval:  c.FastInterval,
		Timeout:       c.Timeout,
		Rise:          c.Rise,
		Fall:          c.Fall,
		Jitter:        c.Jitter.String(),
		Method:        c.Method,
		Path:          c.Path,
		Host:          c.Host,
		BodyContains:  c.BodyContains,
		LoadFrom:      c.LoadFrom,
		SNI:           c.SNI,
		TLSSkipVerify: c.TLSSkipVerify,
		CAPEM:         c.CAPEM,
	}
	for _, r := range c.ExpectStatus {
		hc.ExpectStatus = append(hc.ExpectStatus, r.String())
	}
	return hc
}

// loadSource is the parsed LoadFrom; Kind "" when the check reads no
// load. A Check built or changed by hand rather than by CheckFromSpec
// has only the text, parsed here.
func (c *Check) loadSource() (gslb.LoadFrom, error) {
	switch {
	case c.LoadFrom == "":
		return gslb.LoadFrom{}, nil
	case c.loadFrom.Kind != "" && c.loadFrom.String() == c.LoadFrom:
		return c.loadFrom, nil
	}
	return gslb.ParseLoadFrom(c.LoadFrom)
}

// caPool returns the roots that verify the server: nil means the system
// roots.
func (c *Check) caPool() (*x509.CertPool, error) {
	if c.CAPEM == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(c.CAPEM)) {
		return nil, errors.New("no PEM certificate")
	}
	return pool, nil
}
