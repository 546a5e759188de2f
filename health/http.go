package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/meridian-gslb/meridian/gslb"
)

// httpProber sends one HTTP/1.1 request per probe to the target's address,
// whatever the Host header says, and judges the status and optionally the
// body.
//
// Connections are never reused (DisableKeepAlives). A reused connection
// would keep reporting a backend whose listener is gone (a killed ingress
// pod whose old connection lingers, a load balancer that stopped taking new
// flows) and would skip the TCP and TLS handshakes that real clients make,
// hiding an expired certificate or a full accept queue. The cost is one
// handshake per probe, which the probe rate makes small: 1,000 HTTPS targets
// at 1 s is 1,000 handshakes a second.
//
// With load_from it also reads the member's load from a successful
// response (LastLoad): a header, or the body, read once for both the body
// match and the load.
type httpProber struct {
	client *http.Client
	method string
	url    string
	host   string
	expect []StatusRange
	body   []byte
	load   gslb.LoadFrom // Kind "": no load read
	last   lastLoad      // the latest probe's load
}

func newHTTPProber(t Target) (*httpProber, error) {
	c := t.Check
	scheme := "http"
	var tlsConf *tls.Config
	if c.Kind == KindHTTPS {
		scheme = "https"
		pool, err := c.caPool()
		if err != nil {
			return nil, fmt.Errorf("health %s: ca: %w", t.Label(), err)
		}
		tlsConf = &tls.Config{
			// ServerName is the SNI and the name verified; empty, Go uses
			// the address, which verifies only against IP SANs.
			ServerName:         c.SNI,
			RootCAs:            pool,
			InsecureSkipVerify: c.TLSSkipVerify, // the operator's explicit choice
			MinVersion:         tls.VersionTLS12,
		}
	}
	load, err := c.loadSource()
	if err != nil {
		return nil, fmt.Errorf("health %s: load_from: %w", t.Label(), err)
	}
	addr := t.AddrPort().String()
	dialer := &net.Dialer{KeepAlive: -1}
	transport := &http.Transport{
		// Never a proxy from the environment: the probe must reach the VIP.
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:    tlsConf,
		DisableKeepAlives:  true,
		DisableCompression: true, // the body match sees the bytes as sent
		// HTTP/1.1 only: a health probe needs no multiplexing, and h2's
		// connection handling would fight DisableKeepAlives.
		ForceAttemptHTTP2:      false,
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxResponseHeaderBytes: BodyLimit,
	}
	// The path goes in as written (Validate made sure it starts with "/"),
	// so "/a%2Fb?x=1" reaches the backend unchanged.
	u, err := url.Parse(scheme + "://" + addr + c.Path)
	if err != nil {
		return nil, fmt.Errorf("health %s: path: %w", t.Label(), err)
	}
	return &httpProber{
		client: &http.Client{
			Transport: transport,
			// A redirect is an answer: judge its status, never follow it
			// off the target.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		method: c.Method,
		url:    u.String(),
		host:   c.Host,
		expect: c.ExpectStatus,
		body:   []byte(c.BodyContains),
		load:   load,
	}, nil
}

// LastLoad is the load read by the latest probe: ok when it read one; err
// when it should have and could not. A failed probe reads nothing.
func (p *httpProber) LastLoad() (float64, bool, error) { return p.last.get() }

func (p *httpProber) Probe(ctx context.Context) error {
	p.last.set(loadReading{})
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, nil)
	if err != nil {
		return &ProbeError{Reason: ReasonOther, Err: err}
	}
	if p.host != "" {
		req.Host = p.host
	}
	req.Header.Set("User-Agent", "meridian-health/1")
	resp, err := p.client.Do(req)
	if err != nil {
		return failure(ctx, err)
	}
	defer resp.Body.Close()
	if !statusOK(resp.StatusCode, p.expect) {
		return &ProbeError{Reason: ReasonStatus, Err: fmt.Errorf("status %d, want %v", resp.StatusCode, p.expect)}
	}
	loadBody := loadNeedsBody(p.load)
	if len(p.body) == 0 && !loadBody {
		p.readLoad(resp.Header, nil, nil)
		return nil
	}
	// One read serves the body match (its first BodyLimit bytes) and the
	// load (one byte past MaxLoadBody tells a body that is too long).
	limit := int64(0)
	if len(p.body) > 0 {
		limit = BodyLimit
	}
	if loadBody {
		limit = max(limit, gslb.MaxLoadBody+1)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if len(p.body) > 0 && !bytes.Contains(b[:min(len(b), BodyLimit)], p.body) {
		if err != nil {
			return failure(ctx, err)
		}
		return &ProbeError{Reason: ReasonBody, Err: fmt.Errorf("body (first %d bytes) lacks %q", min(len(b), BodyLimit), p.body)}
	}
	p.readLoad(resp.Header, b, err)
	return nil
}

// readLoad reads the load of a successful probe, if the check asks for
// one. It never fails the probe: a member that answers its health check
// is up whatever its load says.
func (p *httpProber) readLoad(h http.Header, body []byte, bodyErr error) {
	if p.load.Kind == "" {
		return
	}
	v, err := readLoad(p.load, h, body, bodyErr)
	p.last.set(loadReading{v: v, ok: err == nil, err: err})
}
