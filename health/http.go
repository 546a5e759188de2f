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
type httpProber struct {
	client *http.Client
	method string
	url    string
	host   string
	expect []StatusRange
	body   []byte
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
	}, nil
}

func (p *httpProber) Probe(ctx context.Context) error {
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
	if len(p.body) == 0 {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, BodyLimit))
	if !bytes.Contains(b, p.body) {
		if err != nil {
			return failure(ctx, err)
		}
		return &ProbeError{Reason: ReasonBody, Err: fmt.Errorf("body (first %d bytes) lacks %q", len(b), p.body)}
	}
	return nil
}
