package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// Prober checks one target once. Probe returns nil when the target is
// healthy. It must return soon after ctx ends: the Monitor gives it the
// check's timeout, counts a result that comes later as a timeout, skips
// the target's ticks while it runs, and waits for it in Stop. A failure should be a *ProbeError so that it is counted under
// the right reason; other errors are classified by Classify.
//
// One method, so anything can be a prober: tests wrap the real ones, and a
// later gRPC or DNS probe is one more type.
type Prober interface {
	Probe(ctx context.Context) error
}

// ProberFunc adapts a function to Prober.
type ProberFunc func(ctx context.Context) error

// Probe calls f.
func (f ProberFunc) Probe(ctx context.Context) error { return f(ctx) }

// Reason is why a probe failed: a small fixed set, fit for a metric label.
type Reason string

// The failure reasons.
const (
	ReasonTimeout Reason = "timeout" // no answer within the timeout
	ReasonRefused Reason = "refused" // connection refused (nothing listens)
	ReasonTLS     Reason = "tls"     // handshake or certificate verification failed
	ReasonStatus  Reason = "status"  // HTTP status not expected
	ReasonBody    Reason = "body"    // body lacks the expected text
	ReasonOther   Reason = "other"   // anything else: reset, unreachable, ...
)

// Reasons lists every reason, for metrics.
var Reasons = []Reason{ReasonTimeout, ReasonRefused, ReasonTLS, ReasonStatus, ReasonBody, ReasonOther}

// ProbeError is a failed probe with its reason.
type ProbeError struct {
	Reason Reason
	Err    error
}

func (e *ProbeError) Error() string { return string(e.Reason) + ": " + e.Err.Error() }

func (e *ProbeError) Unwrap() error { return e.Err }

// failure wraps err in a ProbeError, classifying it unless it already is
// one. ctx decides timeouts: when the probe's deadline has passed, the
// error is a timeout whatever layer noticed it first.
func failure(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var pe *ProbeError
	if errors.As(err, &pe) {
		return err
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &ProbeError{Reason: ReasonTimeout, Err: err}
	}
	return &ProbeError{Reason: Classify(err), Err: err}
}

// Classify names the reason of a probe error.
func Classify(err error) Reason {
	var (
		pe         *ProbeError
		netErr     net.Error
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		verifyErr  *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return pe.Reason
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.As(err, &recordErr), errors.As(err, &alertErr), errors.As(err, &verifyErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return ReasonTLS
	case errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http replaces the tls.RecordHeaderError with a plain error
		// for this case; the message is its only trace.
		return ReasonTLS
	}
	return ReasonOther
}

// NewProber builds the prober of a target: one per target, reused for
// every probe. It fails only when the check cannot be set up (an
// unreadable CA file).
func NewProber(t Target) (Prober, error) {
	switch t.Check.Kind {
	case KindTCP:
		return newTCPProber(t), nil
	case KindHTTP, KindHTTPS:
		return newHTTPProber(t)
	case KindNone:
		return ProberFunc(func(context.Context) error { return nil }), nil
	}
	return nil, fmt.Errorf("health: unknown check kind %q", t.Check.Kind)
}
