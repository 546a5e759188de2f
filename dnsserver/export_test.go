package dnsserver

import (
	"net/netip"
	"time"
)

// Hooks into the unexported parts for the external tests of this package.

// SetTestHook runs f before every query s answers (nil removes it).
func SetTestHook(s *Server, f func(req []byte)) {
	if f == nil {
		s.h.testHook.Store(nil)
		return
	}
	s.h.testHook.Store(&f)
}

// Handler answers DNS messages like the listeners, without sockets.
type Handler struct {
	h   *handler
	sc  scratch
	out []byte
}

// NewTestHandler returns s's handler.
func NewTestHandler(s *Server) *Handler {
	return &Handler{h: s.h, out: make([]byte, 0, maxMsg)}
}

// Serve answers req from src (tcp selects the transport) as the listeners
// do: fast path when it applies, general path otherwise. The result
// aliases the handler's buffer.
func (t *Handler) Serve(req []byte, src netip.Addr, tcp bool) []byte {
	return t.h.serve(&t.sc, req, src, proto(tcp), t.out[:0])
}

// Fast answers through the fast path only; ok is false when it declines.
func (t *Handler) Fast(req []byte, src netip.Addr, tcp bool, rnd uint64) (resp []byte, ok bool) {
	return t.h.fast(&t.sc, req, src, proto(tcp), t.out[:0], rnd)
}

// General answers through the general path only.
func (t *Handler) General(req []byte, src netip.Addr, tcp bool, rnd uint64) []byte {
	return t.h.general(req, src, proto(tcp), t.out[:0], rnd)
}

func proto(tcp bool) int {
	if tcp {
		return protoTCP
	}
	return protoUDP
}

// FreezeCookies makes the handler's server cookies with the time at, so
// that two answers to one query are equal byte for byte.
func (t *Handler) FreezeCookies(at time.Time) {
	t.h.cookies.now = func() time.Time { return at }
}

// SetSignerRetry sets how often s looks again for a signed zone's missing
// keys; call it before Start.
func SetSignerRetry(s *Server, d time.Duration) { s.signerRetry = d }
