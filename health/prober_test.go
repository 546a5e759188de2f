package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTCPProbe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.10.2.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	accepted := make(chan struct{}, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	tg := mustTarget(t, ap, Check{Kind: KindTCP, Interval: 10 * time.Second, Timeout: 5 * time.Second})
	if err := probeOnce(t, tg); err != nil {
		t.Errorf("listening: %v", err)
	}
	<-accepted
	ln.Close()
	err = probeOnce(t, tg)
	if reasonOf(err) != ReasonRefused {
		t.Errorf("closed: got %v, want reason refused", err)
	}
}

func TestHTTPProbe(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "127.10.3.1", nil)
	ap := b.addrPort()
	check := func(c Check) Check {
		c.Kind, c.Interval = KindHTTP, 10*time.Second
		if c.Timeout == 0 {
			c.Timeout = 5 * time.Second // a hang guard: these probes are not about time
		}
		return c
	}
	tests := []struct {
		name  string
		mode  int32
		check Check
		want  Reason // "" is success
	}{
		{"200", modeOK, check(Check{}), ""},
		{"503", modeFail, check(Check{}), ReasonStatus},
		{"503 expected", modeFail, check(Check{ExpectStatus: []StatusRange{{Low: 503, High: 503}}}), ""},
		{"200 not in list", modeOK, check(Check{ExpectStatus: []StatusRange{{Low: 204, High: 204}, {Low: 300, High: 399}}}), ReasonStatus},
		{"body found", modeOK, check(Check{BodyContains: "healthy"}), ""},
		{"wrong body", modeWrongBody, check(Check{BodyContains: "healthy"}), ReasonBody},
		{"wrong body, no body check", modeWrongBody, check(Check{}), ""},
		{"slow", modeSlow, check(Check{Timeout: 200 * time.Millisecond}), ReasonTimeout},
		{"HEAD", modeOK, check(Check{Method: "HEAD"}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.mode.Store(tt.mode)
			err := probeOnce(t, mustTarget(t, ap, tt.check))
			if got := reasonOf(err); got != tt.want {
				t.Errorf("reason %q (%v), want %q", got, err, tt.want)
			}
			var pe *ProbeError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("%v is not a *ProbeError", err)
			}
		})
	}

	t.Run("killed", func(t *testing.T) {
		k := startBackend(t, "127.10.3.2", nil)
		tg := mustTarget(t, k.addrPort(), check(Check{}))
		if err := probeOnce(t, tg); err != nil {
			t.Fatalf("alive: %v", err)
		}
		k.kill()
		if err := probeOnce(t, tg); reasonOf(err) != ReasonRefused {
			t.Errorf("killed: %v, want refused", err)
		}
		k.revive()
		if err := probeOnce(t, tg); err != nil {
			t.Errorf("revived: %v", err)
		}
	})
}

// The request carries the configured method, path (with query) and Host,
// and never follows a redirect, uses a proxy or reuses a connection.
func TestHTTPProbeRequest(t *testing.T) { // not parallel: Setenv
	b := startBackend(t, "127.10.3.3", nil)
	tg := mustTarget(t, b.addrPort(), Check{
		Kind: KindHTTP, Interval: 10 * time.Second, Timeout: 5 * time.Second, Path: "/health%2Fz?deep=1", Host: "Shop.Example.COM.", Method: "post",
	})
	// Environment proxies would send probes elsewhere; they must be ignored.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("http_proxy", "http://127.0.0.1:1")
	for range 3 {
		if err := probeOnce(t, tg); err != nil {
			t.Fatal(err)
		}
	}
	hosts, _, paths, methods := b.seen()
	if !slices.Equal(hosts, []string{"shop.example.com", "shop.example.com", "shop.example.com"}) {
		t.Errorf("Host headers %q", hosts)
	}
	if paths[0] != "/health%2Fz?deep=1" || methods[0] != "POST" {
		t.Errorf("request %s %s", methods[0], paths[0])
	}
	if n := b.conns.Load(); n != 3 {
		t.Errorf("3 probes used %d connections, want 3 (no reuse)", n)
	}

	// Without Host, the Host header is the probed address.
	bare := mustTarget(t, b.addrPort(), Check{Kind: KindHTTP, Interval: 10 * time.Second, Timeout: 5 * time.Second})
	if err := probeOnce(t, bare); err != nil {
		t.Fatal(err)
	}
	hosts, _, _, _ = b.seen()
	if got := hosts[len(hosts)-1]; got != b.addrPort().String() {
		t.Errorf("default Host %q, want %s", got, b.addrPort())
	}
}

func TestHTTPProbeRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.10.3.4:0")
	if err != nil {
		t.Fatal(err)
	}
	hits := make(chan string, 10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.URL.Path
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})}
	go srv.Serve(ln) // ends with ErrServerClosed
	t.Cleanup(func() { srv.Close() })
	ap := netip.MustParseAddrPort(ln.Addr().String())
	if err := probeOnce(t, mustTarget(t, ap, Check{Kind: KindHTTP, Interval: 10 * time.Second, Timeout: 5 * time.Second})); err != nil {
		t.Errorf("302 within 200-399: %v", err)
	}
	if err := probeOnce(t, mustTarget(t, ap, Check{Kind: KindHTTP, Interval: 10 * time.Second, Timeout: 5 * time.Second, ExpectStatus: []StatusRange{{Low: 200, High: 200}}})); reasonOf(err) != ReasonStatus {
		t.Errorf("302 with expect 200: %v", err)
	}
	if len(hits) != 2 {
		t.Errorf("%d requests, want 2 (redirects not followed)", len(hits))
	}
}

// The body match reads at most BodyLimit bytes.
func TestHTTPProbeBodyLimit(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "127.10.3.5", nil)
	b.mu.Lock()
	b.lastBody = []byte(strings.Repeat("x", BodyLimit) + "needle")
	b.mu.Unlock()
	err := probeOnce(t, mustTarget(t, b.addrPort(), Check{Kind: KindHTTP, Interval: 10 * time.Second, Timeout: 5 * time.Second, BodyContains: "needle"}))
	if reasonOf(err) != ReasonBody {
		t.Errorf("needle after %d bytes: %v, want body failure", BodyLimit, err)
	}
	b.mu.Lock()
	b.lastBody = []byte(strings.Repeat("x", BodyLimit-6) + "needle")
	b.mu.Unlock()
	if err := probeOnce(t, mustTarget(t, b.addrPort(), Check{Kind: KindHTTP, Interval: 10 * time.Second, Timeout: 5 * time.Second, BodyContains: "needle"})); err != nil {
		t.Errorf("needle within %d bytes: %v", BodyLimit, err)
	}
}

func TestHTTPSProbe(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "127.10.4.1", serverTLS(t))
	ap := b.addrPort()
	base := Check{Kind: KindHTTPS, Interval: 10 * time.Second, Timeout: 5 * time.Second, Host: "app.example.test", BodyContains: "healthy"}
	with := func(f func(*Check)) Check {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name  string
		check Check
		want  Reason
	}{
		{"CA PEM", with(func(c *Check) { c.CAPEM = appCert(t).pem }), ""},
		{"system roots", base, ReasonTLS},
		{"skip verify", with(func(c *Check) { c.TLSSkipVerify = true }), ""},
		{"wrong SNI", with(func(c *Check) { c.CAPEM = appCert(t).pem; c.SNI = "other.example.test" }), ReasonTLS},
		{"SNI apart from Host", with(func(c *Check) { c.CAPEM = appCert(t).pem; c.Host = "shop.example.com"; c.SNI = "app.example.test" }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := probeOnce(t, mustTarget(t, ap, tt.check))
			if got := reasonOf(err); got != tt.want {
				t.Errorf("reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	hosts, sni, _, _ := b.seen()
	if len(sni) == 0 || sni[0] != "app.example.test" || hosts[0] != "app.example.test" {
		t.Errorf("first request: SNI %q Host %q, want app.example.test for both", sni, hosts)
	}
	if last := len(hosts) - 1; hosts[last] != "shop.example.com" || sni[last] != "app.example.test" {
		t.Errorf("SNI apart from Host: Host %q SNI %q", hosts[last], sni[last])
	}

	// A plain HTTP probe of a TLS port fails with a status or other error,
	// and an HTTPS probe of a plain HTTP port with a TLS error.
	plain := startBackend(t, "127.10.4.2", nil)
	err := probeOnce(t, mustTarget(t, plain.addrPort(), with(func(c *Check) { c.TLSSkipVerify = true })))
	if reasonOf(err) != ReasonTLS {
		t.Errorf("https to plain http: %v, want tls", err)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want Reason
	}{
		{nil, ""},
		{&ProbeError{Reason: ReasonBody, Err: errors.New("x")}, ReasonBody},
		{fmt.Errorf("wrapped: %w", &ProbeError{Reason: ReasonStatus, Err: errors.New("x")}), ReasonStatus},
		{context.DeadlineExceeded, ReasonTimeout},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, ReasonRefused},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, ReasonOther},
		{x509.UnknownAuthorityError{}, ReasonTLS},
		{&tls.CertificateVerificationError{Err: errors.New("bad")}, ReasonTLS},
		{tls.AlertError(42), ReasonTLS},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, ReasonTLS},
		{timeoutErr{}, ReasonTimeout},
		{errors.New("something"), ReasonOther},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestNoneProbe(t *testing.T) {
	t.Parallel()
	tg := mustTarget(t, netip.MustParseAddrPort("127.10.2.9:0"), Check{Kind: KindNone})
	if err := probeOnce(t, tg); err != nil {
		t.Errorf("none: %v", err)
	}
}
