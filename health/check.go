package health

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// Kind is what a probe does.
type Kind string

// The probe kinds.
const (
	KindTCP   Kind = "tcp"   // a TCP connect, then close
	KindHTTP  Kind = "http"  // an HTTP/1.1 request over a fresh connection
	KindHTTPS Kind = "https" // the same over TLS, with SNI and verification
	KindNone  Kind = "none"  // no probe: always up
)

// Kinds lists every valid kind, for validation messages.
var Kinds = []Kind{KindTCP, KindHTTP, KindHTTPS, KindNone}

// Defaults applied by Check.Defaults.
//
//	field          default      rule
//	kind           tcp          tcp, http, https or none
//	port           80 (http)    1..65535; required for tcp
//	               443 (https)
//	interval       5s           >= 100ms, <= 1h
//	timeout        2s           >= 10ms and < interval; shrunk to interval/2
//	                            when only the interval is set below 4s
//	rise           2            1..100 consecutive successes to come up
//	fall           3            1..100 consecutive failures to go down
//	jitter         10%          a fraction in [0, 1) of the interval, or a
//	                            duration < interval; "0" turns it off
//	method         GET          http(s) only; an HTTP token, upper case
//	path           /            http(s) only; starts with "/", may hold a query
//	host           the FQDN     http(s) only; the Host header (Plan sets the
//	                            service name when empty)
//	sni            host         https only; the TLS server name (host without port)
//	expect_status  200-399      http(s) only; codes and ranges of 100..599
//	body_contains  (none)       http(s) only; searched in the first 64 KiB
//	tls_skip_verify false       https only; conflicts with ca_file / ca_pem
//	ca_file        system roots https only; PEM file of trusted roots
//	ca_pem         system roots https only; PEM text of trusted roots
//
// With 1 s intervals, rise 2 and fall 3, a dead member leaves the answers
// about 3 s after it dies and comes back about 2 s after it recovers (plus
// the answer's TTL at resolvers).
const (
	DefaultInterval    = 5 * time.Second
	DefaultTimeout     = 2 * time.Second
	DefaultRise        = 2
	DefaultFall        = 3
	DefaultJitter      = 0.10
	DefaultMethod      = "GET"
	DefaultPath        = "/"
	DefaultHTTPPort    = 80
	DefaultHTTPSPort   = 443
	MinInterval        = 100 * time.Millisecond
	MaxInterval        = time.Hour
	MinTimeout         = 10 * time.Millisecond
	MaxThreshold       = 100
	BodyLimit          = 64 << 10 // bytes of a response searched for BodyContains
	defaultExpectLow   = 200
	defaultExpectHigh  = 399
	statusCodeLow      = 100
	statusCodeHigh     = 599
	timeoutPerInterval = 2 // a defaulted timeout is at most interval/2
)

// Check is the configuration of one health probe. The zero value plus
// Defaults is a TCP check that still needs a port. Field names in error
// messages are the snake_case names of the configuration file.
type Check struct {
	Kind Kind `json:"kind"`
	// Port is the port probed. Plan uses it for every member address; a
	// PlanOptions.ProbeAddr hook may change it per member (NAT).
	Port uint16 `json:"port,omitempty"`

	Interval time.Duration `json:"interval"`
	Timeout  time.Duration `json:"timeout"`
	Rise     int           `json:"rise"`
	Fall     int           `json:"fall"`
	Jitter   Jitter        `json:"jitter"`

	// HTTP and HTTPS only.
	Method       string        `json:"method,omitempty"`
	Path         string        `json:"path,omitempty"`
	Host         string        `json:"host,omitempty"`
	ExpectStatus []StatusRange `json:"expect_status,omitempty"`
	BodyContains string        `json:"body_contains,omitempty"`

	// HTTPS only. With neither CAFile nor CAPEM the system roots verify
	// the server; TLSSkipVerify turns verification off.
	SNI           string `json:"sni,omitempty"`
	TLSSkipVerify bool   `json:"tls_skip_verify,omitempty"`
	// CAFile is read when the prober is built (and by Validate); a changed
	// file takes effect when the target is rebuilt, that is when the check
	// changes. CAPEM suits a CA taken from a Kubernetes Secret.
	CAFile string `json:"ca_file,omitempty"`
	CAPEM  string `json:"ca_pem,omitempty"`
}

func (c *Check) isHTTP() bool { return c.Kind == KindHTTP || c.Kind == KindHTTPS }

// Defaults fills the unset fields of c in place (see the table above) and
// canonicalises names, so equal checks compare equal. Call it before
// Validate; NewTarget calls both.
func (c *Check) Defaults() {
	c.Kind = Kind(strings.ToLower(strings.TrimSpace(string(c.Kind))))
	if c.Kind == "" {
		c.Kind = KindTCP
	}
	if c.Port == 0 {
		switch c.Kind {
		case KindHTTP:
			c.Port = DefaultHTTPPort
		case KindHTTPS:
			c.Port = DefaultHTTPSPort
		}
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		// A short interval with the default timeout would not validate;
		// half the interval keeps a slow probe from eating the next tick.
		c.Timeout = min(DefaultTimeout, c.Interval/timeoutPerInterval)
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.Jitter.IsZero() {
		c.Jitter = Jitter{Fraction: DefaultJitter}
	}
	if !c.isHTTP() {
		return
	}
	c.Method = strings.ToUpper(strings.TrimSpace(c.Method))
	if c.Method == "" {
		c.Method = DefaultMethod
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	hostName, hostPort := splitHost(c.Host)
	c.Host = hostName
	if hostPort != "" {
		c.Host = net.JoinHostPort(hostName, hostPort)
	}
	if c.Kind == KindHTTPS {
		c.SNI = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(c.SNI), "."))
		if c.SNI == "" {
			c.SNI = hostName
		}
	}
	if len(c.ExpectStatus) == 0 {
		c.ExpectStatus = []StatusRange{{Low: defaultExpectLow, High: defaultExpectHigh}}
	}
}

// Validate reports every problem of a defaulted check as *gslb.FieldError
// values joined with errors.Join, with paths relative to the check
// ("interval: must be >= 100ms"), so the config loader can prefix them. It
// reads CAFile to make sure it holds a certificate.
func (c *Check) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &gslb.FieldError{Path: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch c.Kind {
	case KindTCP, KindHTTP, KindHTTPS, KindNone:
	default:
		bad("kind", "must be one of %v, got %q", Kinds, c.Kind)
	}
	if c.Kind == KindTCP && c.Port == 0 {
		bad("port", "required for tcp checks")
	}
	switch {
	case c.Interval < MinInterval:
		bad("interval", "must be >= %v, got %v", MinInterval, c.Interval)
	case c.Interval > MaxInterval:
		bad("interval", "must be <= %v, got %v", MaxInterval, c.Interval)
	}
	switch {
	case c.Timeout < MinTimeout:
		bad("timeout", "must be >= %v, got %v", MinTimeout, c.Timeout)
	case c.Timeout >= c.Interval:
		bad("timeout", "must be less than interval (%v), got %v", c.Interval, c.Timeout)
	}
	if c.Rise < 1 || c.Rise > MaxThreshold {
		bad("rise", "must be between 1 and %d, got %d", MaxThreshold, c.Rise)
	}
	if c.Fall < 1 || c.Fall > MaxThreshold {
		bad("fall", "must be between 1 and %d, got %d", MaxThreshold, c.Fall)
	}
	if msg := c.Jitter.check(c.Interval); msg != "" {
		bad("jitter", "%s", msg)
	}
	if c.isHTTP() {
		c.validateHTTP(bad)
	} else {
		c.rejectHTTPFields(bad)
	}
	if c.Kind == KindHTTPS {
		c.validateTLS(bad)
	} else {
		onlyFor(bad, "https checks", []setField{
			{"sni", c.SNI != ""}, {"tls_skip_verify", c.TLSSkipVerify},
			{"ca_file", c.CAFile != ""}, {"ca_pem", c.CAPEM != ""},
		})
	}
	return errors.Join(errs...)
}

func (c *Check) validateHTTP(bad func(field, format string, args ...any)) {
	if !isToken(c.Method) {
		bad("method", "must be an HTTP method such as GET or HEAD, got %q", c.Method)
	}
	if c.Method == "HEAD" && c.BodyContains != "" {
		bad("body_contains", "HEAD responses have no body")
	}
	if _, err := url.ParseRequestURI(c.Path); err != nil || !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, " \t\r\n#") {
		bad("path", "must start with / and hold no spaces or fragment, got %q", c.Path)
	}
	if c.Host != "" && !validHost(c.Host) {
		bad("host", "must be a host name or host:port, got %q", c.Host)
	}
	for i, r := range c.ExpectStatus {
		if r.Low < statusCodeLow || r.High > statusCodeHigh || r.Low > r.High {
			bad(fmt.Sprintf("expect_status[%d]", i), "must be a code or a range within %d-%d, got %s", statusCodeLow, statusCodeHigh, r)
		}
	}
	if len(c.BodyContains) > BodyLimit {
		bad("body_contains", "must be at most %d bytes", BodyLimit)
	}
}

func (c *Check) rejectHTTPFields(bad func(field, format string, args ...any)) {
	onlyFor(bad, "http and https checks", []setField{
		{"method", c.Method != ""}, {"path", c.Path != ""}, {"host", c.Host != ""},
		{"expect_status", len(c.ExpectStatus) > 0}, {"body_contains", c.BodyContains != ""},
	})
}

// setField is a field name and whether it was set, for onlyFor.
type setField struct {
	name string
	set  bool
}

// onlyFor rejects fields set on a kind that ignores them: a path on a tcp
// check is a mistake worth reporting, not something to drop silently.
func onlyFor(bad func(field, format string, args ...any), kinds string, fields []setField) {
	for _, f := range fields {
		if f.set {
			bad(f.name, "only for %s", kinds)
		}
	}
}

func (c *Check) validateTLS(bad func(field, format string, args ...any)) {
	if c.SNI != "" && (strings.Contains(c.SNI, ":") || !validHost(c.SNI)) {
		bad("sni", "must be a host name without port, got %q", c.SNI)
	}
	if c.TLSSkipVerify && (c.CAFile != "" || c.CAPEM != "") {
		bad("tls_skip_verify", "conflicts with ca_file and ca_pem: no certificate is verified")
	}
	if c.CAFile != "" {
		if _, err := c.caPool(); err != nil {
			bad("ca_file", "%v", err)
		}
	} else if c.CAPEM != "" {
		if _, err := c.caPool(); err != nil {
			bad("ca_pem", "%v", err)
		}
	}
}

// caPool returns the roots that verify the server: nil means the system
// roots. CAFile and CAPEM together give one pool with both.
func (c *Check) caPool() (*x509.CertPool, error) {
	if c.CAFile == "" && c.CAPEM == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", c.CAFile)
		}
	}
	if c.CAPEM != "" && !pool.AppendCertsFromPEM([]byte(c.CAPEM)) {
		return nil, errors.New("no PEM certificate")
	}
	return pool, nil
}

// splitHost splits a Host value into a canonical name (lower case, no
// final dot: a fully qualified service name is not what a server expects
// in Host or SNI) and its port, if any.
func splitHost(s string) (name, port string) {
	s = strings.TrimSpace(s)
	if h, p, err := net.SplitHostPort(s); err == nil {
		s, port = h, p
	}
	return strings.ToLower(strings.TrimSuffix(s, ".")), port
}

// isToken reports whether s is an RFC 9110 token (an HTTP method name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, b) >= 0 {
			return false
		}
	}
	return true
}

// isHostByte accepts letters, digits, '-' and '_' (seen in real service
// names even though RFC 952 forbids it).
func isHostByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

// validHost accepts a DNS name, an IP literal, or either with a port.
func validHost(s string) bool {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
		s = h
	}
	if s == "" || len(s) > 253 {
		return false
	}
	if net.ParseIP(s) != nil {
		return true
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !isHostByte(label[i]) {
				return false
			}
		}
	}
	return true
}
