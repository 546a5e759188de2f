package gslb

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The kinds of HealthCheck.
const (
	CheckTCP   = "tcp"   // a TCP connect, then close
	CheckHTTP  = "http"  // an HTTP/1.1 request over a fresh connection
	CheckHTTPS = "https" // the same over TLS, with SNI and verification
	CheckNone  = "none"  // no probe: always up
)

// HealthCheckKinds lists every kind, for validation messages.
var HealthCheckKinds = []string{CheckTCP, CheckHTTP, CheckHTTPS, CheckNone}

// Defaults and limits of a HealthCheck, applied by Defaults and checked
// by Validate. They are the only ones: the config loader, the Kubernetes
// policy compiler and followers validating a received State all call
// those two methods, and docs/configuration.md lists them.
//
//	field          default      rule
//	kind           tcp          tcp, http, https or none
//	port           80 (http)    required for tcp
//	               443 (https)
//	interval       5s           >= 100ms, <= 1h
//	fast_interval  interval/5   >= 100ms, <= interval; the re-probe interval
//	               (>= 100ms)   while a member's state is in doubt; equal to
//	                            interval turns fast re-probing off
//	timeout        2s           >= 10ms and < interval; shrunk to interval/2
//	                            when only the interval is set below 4s
//	rise           2            1..100 consecutive successes to come up
//	fall           3            1..100 consecutive failures to go down
//	jitter         10%          a fraction in [0, 1) of the interval, or a
//	                            duration < interval; "0" turns it off
//	method         GET          http(s) only; an HTTP token, upper case
//	path           /            http(s) only; starts with "/", may hold a query
//	host           the service  http(s) only; the Host header (the service
//	                            name when empty: see ProbeHealthCheck)
//	sni            host         https only; the TLS server name (host without port)
//	expect_status  200-399      http(s) only; codes and ranges of 100..599
//	body_contains  (none)       http(s) only; searched in the first 64 KiB
//	tls_skip_verify false       https only; conflicts with ca_pem
//	ca_pem         system roots https only; PEM text of trusted roots
//
// A member is in doubt while its last probes point to a state it is not
// in and that would change the answers (failures while up or unknown,
// successes while down),
// until the state changes or a contrary result resets the count;
// meanwhile it is probed every fast_interval instead
// of every interval, so fall and rise count quick re-probes rather than
// whole intervals (HAProxy's fastinter). The timeout stays the check's: a
// shorter one would turn a slow but healthy member into a false down.
//
// So a dead member leaves the answers at most interval + (fall-1) *
// fast_interval after it dies when its probes fail at once (refused): the
// first failure comes within one interval. A member whose probes time out
// adds the timeout, and each re-probe starts when the previous one ends
// if that is later: interval + (fall-1) * max(fast_interval, timeout) +
// timeout. With 1 s intervals, fast_interval 200ms and fall 3, a refused
// member is out within about 1.4 s. It comes back after rise probes the
// same way. Add the answer's TTL at resolvers.
const (
	DefaultCheckInterval     = 5 * time.Second
	DefaultCheckTimeout      = 2 * time.Second
	DefaultCheckRise         = 2
	DefaultCheckFall         = 3
	DefaultCheckJitter       = "10%"
	DefaultCheckMethod       = "GET"
	DefaultCheckPath         = "/"
	DefaultCheckExpectStatus = "200-399"
	DefaultHTTPCheckPort     = 80
	DefaultHTTPSCheckPort    = 443
	MinCheckInterval         = 100 * time.Millisecond
	MaxCheckInterval         = time.Hour
	MinCheckTimeout          = 10 * time.Millisecond
	MaxCheckThreshold        = 100      // the most rise or fall probes
	MaxCheckBodyContains     = 64 << 10 // bytes of a response searched for BodyContains
	MinCheckStatus           = 100
	MaxCheckStatus           = 599
	// A defaulted timeout is at most interval/checkTimeoutShare, so a slow
	// probe cannot eat the next tick.
	checkTimeoutShare = 2
	// A defaulted fast_interval is interval/fastIntervalShare: the doubt
	// lasts fall-1 re-probes, a fifth of an interval each, while the load
	// of a target in doubt is bounded by five times its usual one.
	fastIntervalShare = 5
)

// DefaultFastInterval is the fast_interval Defaults gives a check with
// this interval: interval/5, at least MinCheckInterval and at most the
// interval.
func DefaultFastInterval(interval time.Duration) time.Duration {
	return min(interval, max(interval/fastIntervalShare, MinCheckInterval))
}

// HealthCheck describes how a service's members are probed, as data: it
// travels in the State so that every site probes alike. gslb does not
// probe (the health package does); it owns the rules: Defaults fills the
// unset fields, Validate judges the result. Field errors use the json
// names below ("expect_status[1]"), relative to the check.
type HealthCheck struct {
	Kind     string        `json:"kind"`
	Port     uint16        `json:"port,omitempty"`
	Interval time.Duration `json:"interval,omitempty"`
	// FastInterval is the interval between probes while a member's state
	// is in doubt (a failure short of Fall, a success short of Rise); 0
	// takes DefaultFastInterval, Interval turns fast re-probing off.
	FastInterval time.Duration `json:"fast_interval,omitempty"`
	Timeout      time.Duration `json:"timeout,omitempty"`
	Rise         int           `json:"rise,omitempty"`
	Fall         int           `json:"fall,omitempty"`
	// Jitter is a percentage ("10%"), a fraction ("0.1"), a duration
	// ("250ms") or "0" (see ParseJitter).
	Jitter string `json:"jitter,omitempty"`

	// HTTP and HTTPS. Host defaults to the service name.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Host   string `json:"host,omitempty"`
	// ExpectStatus holds codes and ranges: "200", "200-399", or several
	// in one item ("200,204") (see ParseStatusRanges).
	ExpectStatus []string `json:"expect_status,omitempty"`
	BodyContains string   `json:"body_contains,omitempty"`
	// LoadFrom is where a successful probe reads the member's load (see
	// ParseLoadFrom): "header:<name>", "json:<path>" or "body", each may
	// follow "capacity:" for a backend that reports its free capacity.
	LoadFrom string `json:"load_from,omitempty"`

	// HTTPS. CAPEM is the CA bundle itself, not a file name: a follower
	// site has no copy of the leader's files (a config file's ca_file is
	// read into it by the loader).
	SNI           string `json:"sni,omitempty"`
	TLSSkipVerify bool   `json:"tls_skip_verify,omitempty"`
	CAPEM         string `json:"ca_pem,omitempty"`
}

// CheckKind is kind as Defaults reads it: trimmed, lower case, "" is
// tcp.
func CheckKind(kind string) string {
	kind = strings.ToLower(strings.TrimSpace(kind))
	if kind == "" {
		return CheckTCP
	}
	return kind
}

// Probes reports whether h probes anything: false for no check (nil) and
// for kind none.
func (h *HealthCheck) Probes() bool { return h != nil && CheckKind(h.Kind) != CheckNone }

// IsHTTP reports whether the check is http or https (Kind canonical).
func (h *HealthCheck) IsHTTP() bool { return h.Kind == CheckHTTP || h.Kind == CheckHTTPS }

// Clone returns a deep copy of h (nil for nil).
func (h *HealthCheck) Clone() *HealthCheck {
	if h == nil {
		return nil
	}
	c := *h
	c.ExpectStatus = slices.Clone(h.ExpectStatus)
	return &c
}

// Defaults fills the unset fields of h in place (see the table above) and
// canonicalises names and texts, so equal checks compare equal. It never
// fails: a value it cannot read is left for Validate to report. Calling
// it twice changes nothing the second time.
func (h *HealthCheck) Defaults() {
	h.Kind = CheckKind(h.Kind)
	if h.Port == 0 {
		switch h.Kind {
		case CheckHTTP:
			h.Port = DefaultHTTPCheckPort
		case CheckHTTPS:
			h.Port = DefaultHTTPSCheckPort
		}
	}
	if h.Interval == 0 {
		h.Interval = DefaultCheckInterval
	}
	if h.FastInterval == 0 && h.Interval >= MinCheckInterval {
		h.FastInterval = DefaultFastInterval(h.Interval)
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultCheckTimeout
		if h.Interval > 0 {
			// A short interval with the default timeout would not
			// validate: fit the timeout to it.
			h.Timeout = min(DefaultCheckTimeout, h.Interval/checkTimeoutShare)
		}
	}
	if h.Rise == 0 {
		h.Rise = DefaultCheckRise
	}
	if h.Fall == 0 {
		h.Fall = DefaultCheckFall
	}
	h.Jitter = strings.TrimSpace(h.Jitter)
	if h.Jitter == "" {
		h.Jitter = DefaultCheckJitter
	}
	if j, err := ParseJitter(h.Jitter); err == nil {
		h.Jitter = j.String()
	}
	if h.IsHTTP() {
		h.defaultsHTTP()
	}
}

func (h *HealthCheck) defaultsHTTP() {
	h.Method = strings.ToUpper(strings.TrimSpace(h.Method))
	if h.Method == "" {
		h.Method = DefaultCheckMethod
	}
	if h.Path == "" {
		h.Path = DefaultCheckPath
	}
	hostName, hostPort := splitHost(h.Host)
	h.Host = hostName
	if hostPort != "" {
		h.Host = net.JoinHostPort(hostName, hostPort)
	}
	if h.Kind == CheckHTTPS {
		h.SNI = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h.SNI), "."))
		if h.SNI == "" {
			h.SNI = hostName
		}
	}
	if len(h.ExpectStatus) == 0 {
		h.ExpectStatus = []string{DefaultCheckExpectStatus}
	}
	// A copy: the slice may be shared with its source (a CRD object in
	// an informer's cache, a config default used by many services).
	h.ExpectStatus = slices.Clone(h.ExpectStatus)
	for i, s := range h.ExpectStatus {
		// One canonical spelling per item; items keep their index so that
		// errors name the item the user wrote.
		if rs, err := parseStatusItem(i, s); err == nil {
			h.ExpectStatus[i] = joinStatusRanges(rs)
		}
	}
}

// ProbeHealthCheck returns the check that probes s's members: a defaulted
// copy of s.HealthCheck whose Host, when empty for an HTTP(S) check, is the
// service name without the final dot (and so is the SNI), so the backend's
// virtual host routing sees what a client would send. nil when the
// service has no check. Validate the result before probing with it.
func (s *Service) ProbeHealthCheck() *HealthCheck {
	h := s.HealthCheck.Clone()
	if h == nil {
		return nil
	}
	h.Kind = CheckKind(h.Kind)
	if h.IsHTTP() && strings.TrimSpace(h.Host) == "" {
		h.Host = strings.TrimSuffix(s.Name, ".")
	}
	h.Defaults()
	return h
}

// Validate reports every problem of a defaulted check (call Defaults
// first) as *FieldError values joined with errors.Join, with paths
// relative to the check ("interval", "expect_status[1]"), so each caller
// can prefix them with where the check was written. Fields that a kind
// ignores are rejected rather than dropped: a path on a tcp check is a
// mistake worth reporting. An unknown kind is reported alone with the
// fields every kind has: what else applies cannot be known.
func (h *HealthCheck) Validate() error {
	v := checkErrors{}
	known := slices.Contains(HealthCheckKinds, h.Kind)
	if !known {
		v.bad("kind", "must be one of %v, got %q", HealthCheckKinds, h.Kind)
	}
	if h.Kind == CheckTCP && h.Port == 0 {
		v.bad("port", "required for tcp checks")
	}
	h.validateSchedule(&v)
	switch {
	case !known:
	case h.IsHTTP():
		h.validateHTTP(&v)
	default:
		v.onlyFor("http and https checks", []setField{
			{"method", h.Method != ""}, {"path", h.Path != ""}, {"host", h.Host != ""},
			{"expect_status", len(h.ExpectStatus) > 0}, {"body_contains", h.BodyContains != ""},
			{"load_from", h.LoadFrom != ""},
		})
	}
	switch {
	case !known:
	case h.Kind == CheckHTTPS:
		h.validateTLS(&v)
	default:
		v.onlyFor("https checks", []setField{
			{"sni", h.SNI != ""}, {"tls_skip_verify", h.TLSSkipVerify}, {"ca_pem", h.CAPEM != ""},
		})
	}
	return errors.Join(v...)
}

// validateSchedule checks when and how often the check runs.
func (h *HealthCheck) validateSchedule(v *checkErrors) {
	switch {
	case h.Interval < MinCheckInterval:
		v.bad("interval", "must be >= %v, got %v", MinCheckInterval, h.Interval)
	case h.Interval > MaxCheckInterval:
		v.bad("interval", "must be <= %v, got %v", MaxCheckInterval, h.Interval)
	}
	switch {
	case h.FastInterval == 0 && h.Interval < MinCheckInterval:
		// Defaults had no interval to derive it from: interval's error
		// says why.
	case h.FastInterval < MinCheckInterval:
		v.bad("fast_interval", "must be >= %v, got %v", MinCheckInterval, h.FastInterval)
	case h.FastInterval > h.Interval:
		v.bad("fast_interval", "must be at most interval (%v), got %v", h.Interval, h.FastInterval)
	}
	switch {
	case h.Timeout < MinCheckTimeout:
		v.bad("timeout", "must be >= %v, got %v", MinCheckTimeout, h.Timeout)
	case h.Timeout >= h.Interval:
		v.bad("timeout", "must be less than interval (%v), got %v", h.Interval, h.Timeout)
	}
	if h.Rise < 1 || h.Rise > MaxCheckThreshold {
		v.bad("rise", "must be between 1 and %d, got %d", MaxCheckThreshold, h.Rise)
	}
	if h.Fall < 1 || h.Fall > MaxCheckThreshold {
		v.bad("fall", "must be between 1 and %d, got %d", MaxCheckThreshold, h.Fall)
	}
	j, err := h.JitterValue()
	if err != nil {
		*v = append(*v, err)
	} else if msg := j.check(h.Interval); msg != "" {
		v.bad("jitter", "%s", msg)
	}
}

// JitterValue parses Jitter; its error is a *FieldError naming "jitter".
// "" is the unset Jitter (Defaults makes it 10%).
func (h *HealthCheck) JitterValue() (Jitter, error) {
	j, err := ParseJitter(h.Jitter)
	if err != nil {
		return Jitter{}, &FieldError{Path: "jitter", Msg: fmt.Sprintf("want a percentage (10%%), a fraction (0.1), a duration (250ms) or 0, got %q", h.Jitter)}
	}
	return j, nil
}

// ExpectedStatuses parses ExpectStatus into ranges, in order; each item
// that does not parse is a *FieldError naming it ("expect_status[1]"),
// joined with errors.Join. Bounds are Validate's to check.
func (h *HealthCheck) ExpectedStatuses() ([]StatusRange, error) {
	var out []StatusRange
	var errs []error
	for i, s := range h.ExpectStatus {
		rs, err := parseStatusItem(i, s)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, rs...)
	}
	return out, errors.Join(errs...)
}

// parseStatusItem parses expect_status[i]: one or more codes and ranges.
func parseStatusItem(i int, s string) ([]StatusRange, error) {
	rs, err := ParseStatusRanges(s)
	if err != nil || len(rs) == 0 {
		return nil, &FieldError{Path: fmt.Sprintf("expect_status[%d]", i), Msg: fmt.Sprintf("want a code (200) or a range (200-399), got %q", s)}
	}
	return rs, nil
}

func (h *HealthCheck) validateHTTP(v *checkErrors) {
	if !isToken(h.Method) {
		v.bad("method", "must be an HTTP method such as GET or HEAD, got %q", h.Method)
	}
	if h.Method == "HEAD" && h.BodyContains != "" {
		v.bad("body_contains", "HEAD responses have no body")
	}
	if _, err := url.ParseRequestURI(h.Path); err != nil || !strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " \t\r\n#") {
		v.bad("path", "must start with / and hold no spaces or fragment, got %q", h.Path)
	}
	if h.Host != "" && !validHost(h.Host) {
		v.bad("host", "must be a host name or host:port, got %q", h.Host)
	}
	for i, s := range h.ExpectStatus {
		rs, err := parseStatusItem(i, s)
		if err != nil {
			*v = append(*v, err)
			continue
		}
		for _, r := range rs {
			if r.Low < MinCheckStatus || r.High > MaxCheckStatus || r.Low > r.High {
				v.bad(fmt.Sprintf("expect_status[%d]", i), "must be a code or a range within %d-%d, got %s", MinCheckStatus, MaxCheckStatus, r)
			}
		}
	}
	if len(h.BodyContains) > MaxCheckBodyContains {
		v.bad("body_contains", "must be at most %d bytes", MaxCheckBodyContains)
	}
	if h.LoadFrom != "" {
		lf, err := ParseLoadFrom(h.LoadFrom)
		switch {
		case err != nil:
			v.bad("load_from", "%v", err)
		case h.Method == "HEAD" && lf.Kind != LoadFromHeader:
			v.bad("load_from", "HEAD responses have no body: read a header")
		}
	}
}

func (h *HealthCheck) validateTLS(v *checkErrors) {
	if h.SNI != "" && (strings.Contains(h.SNI, ":") || !validHost(h.SNI)) {
		v.bad("sni", "must be a host name without port, got %q", h.SNI)
	}
	if h.TLSSkipVerify && h.CAPEM != "" {
		// ca_file is the config file's spelling of ca_pem.
		v.bad("tls_skip_verify", "conflicts with ca_file and ca_pem: no certificate is verified")
	}
	if h.CAPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(h.CAPEM)) {
		v.bad("ca_pem", "no PEM certificate")
	}
}

// checkErrors collects the *FieldError values of one check.
type checkErrors []error

func (v *checkErrors) bad(field, format string, args ...any) {
	*v = append(*v, &FieldError{Path: field, Msg: fmt.Sprintf(format, args...)})
}

// setField is a field name and whether it was set, for onlyFor.
type setField struct {
	name string
	set  bool
}

// onlyFor rejects fields set on a kind that ignores them.
func (v *checkErrors) onlyFor(kinds string, fields []setField) {
	for _, f := range fields {
		if f.set {
			v.bad(f.name, "only for %s", kinds)
		}
	}
}
