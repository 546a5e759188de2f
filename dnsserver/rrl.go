package dnsserver

import (
	"encoding/binary"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"
)

// Response rate limiting (RRL), as BIND and Knot do it: a UDP response is
// a reflection at whoever's address a query claims, so the responses to
// one client network are limited per kind (and, for answers, per name).
// Over the rate most are dropped; every Slip-th is sent truncated instead
// (TC=1, no records), so that a real client behind the network retries
// over TCP, which a spoofer cannot. TCP is never limited.

// RRLConfig configures response rate limiting; the zero value is off.
type RRLConfig struct {
	// ResponsesPerSecond each client network gets per bucket; 0 is off.
	ResponsesPerSecond int
	// Window is how many seconds of unused rate a bucket may save up
	// (its burst is ResponsesPerSecond x Window); default 5.
	Window int
	// Slip: every Slip-th limited response goes out truncated, the others
	// are dropped; 0 drops all, 1 truncates all. Default 2.
	Slip int
	// IPv4Prefix and IPv6Prefix group clients into networks; default 24
	// and 56.
	IPv4Prefix, IPv6Prefix int
	// Exempt networks are never limited (monitoring, known resolvers).
	Exempt []netip.Prefix
	// Buckets is the table size, rounded up to a power of two; default
	// 65536. Keys that collide share a bucket, which limits them sooner,
	// never later.
	Buckets int
}

// Defaults of RRLConfig.
const (
	DefaultRRLWindow     = 5
	DefaultRRLSlip       = 2
	DefaultRRLBuckets    = 1 << 16
	DefaultRRLIPv4Prefix = 24
	DefaultRRLIPv6Prefix = 56
)

// Response kinds, each with its own buckets.
const (
	rrlAnswer   = iota // NOERROR with an answer, or NODATA: by name
	rrlReferral        // a delegation: by name
	rrlNXDomain        // by network only: random names must not get fresh buckets
	rrlError           // any other rcode: by network only
)

// rrl is the limiter. Each bucket is one atomic word:
//
//	[tag 16 bits][second 24 bits][tokens 24 bits]
//
// tag tells keys sharing a slot apart (a new key takes the slot over with
// a full bucket), second is when it was last refilled (wraps after 194
// days, harmlessly), tokens what is left. A response costs a compare-and-
// swap on one word and no allocation.
type rrl struct {
	cfg     RRLConfig
	rate    uint64
	burst   uint64
	buckets []atomic.Uint64
	mask    uint64
	seed    maphash.Seed
	exempt  []netip.Prefix
	epoch   time.Time
	slipped atomic.Uint64 // limited responses so far, for the slip
	cookies *cookies      // a client with a valid server cookie is exempt
	m       *metrics
	log     *slog.Logger

	logged logEvery // the "rate limiting" line
}

func newRRL(cfg RRLConfig, m *metrics, log *slog.Logger) *rrl {
	if cfg.ResponsesPerSecond <= 0 {
		return nil
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultRRLWindow
	}
	if cfg.Slip < 0 {
		cfg.Slip = 0
	}
	if cfg.IPv4Prefix <= 0 || cfg.IPv4Prefix > 32 {
		cfg.IPv4Prefix = DefaultRRLIPv4Prefix
	}
	if cfg.IPv6Prefix <= 0 || cfg.IPv6Prefix > 128 {
		cfg.IPv6Prefix = DefaultRRLIPv6Prefix
	}
	n := DefaultRRLBuckets
	if cfg.Buckets > 0 {
		n = 1
		for n < cfg.Buckets {
			n <<= 1
		}
	}
	burst := min(uint64(cfg.ResponsesPerSecond)*uint64(cfg.Window), 1<<24-1)
	return &rrl{
		cfg: cfg, rate: min(uint64(cfg.ResponsesPerSecond), burst), burst: burst,
		buckets: make([]atomic.Uint64, n), mask: uint64(n - 1), seed: maphash.MakeSeed(),
		exempt: cfg.Exempt, epoch: time.Now(), m: m, log: log,
	}
}

// limit applies the rate to resp, the UDP response to req from src that
// arrived at now: it returns resp, resp cut to a truncated header and
// question (a slip), or nil (dropped).
func (r *rrl) limit(req, resp []byte, src netip.Addr, now time.Time) []byte {
	if len(resp) < 12 || len(req) < 12 {
		return resp
	}
	src = src.Unmap()
	for _, p := range r.exempt {
		if p.Contains(src) {
			return resp
		}
	}
	bits := r.cfg.IPv4Prefix
	if !src.Is4() {
		bits = r.cfg.IPv6Prefix
	}
	network, _ := src.Prefix(bits)
	kind, byName := responseKind(resp)

	var h maphash.Hash
	h.SetSeed(r.seed)
	a := network.Addr().As16()
	h.Write(a[:])
	h.WriteByte(byte(bits))
	h.WriteByte(byte(kind))
	if byName {
		writeLowerName(&h, req)
	}
	sum := h.Sum64()
	if r.take(&r.buckets[sum&r.mask], uint16(sum>>48), now) {
		return resp
	}
	// Over the rate. A valid server cookie proves the client receives
	// what is sent to its address (RFC 7873 section 1): not a spoofed
	// victim, so not limited.
	var ck cookieIn
	if r.cookies != nil {
		var valid bool
		if ck, valid = r.cookies.validCookie(req, src); valid {
			return resp
		}
	}
	n := r.slipped.Add(1)
	r.noteLimited(network, now)
	if r.cfg.Slip > 0 && n%uint64(r.cfg.Slip) == 0 {
		r.m.rrl[rrlSlipped].Add(1)
		if ck.client != nil {
			// A client that does cookies gets one to retry with
			// (BADCOOKIE, RFC 7873 section 5.2.3), and is then exempt.
			return r.badCookie(resp, ck.client, src)
		}
		return truncated(resp)
	}
	r.m.rrl[rrlDropped].Add(1)
	return nil
}

// take spends a token of the bucket at b for the key tagged tag; false
// when it has none left this second.
func (r *rrl) take(b *atomic.Uint64, tag uint16, at time.Time) bool {
	now := uint64(at.Sub(r.epoch)/time.Second) & (1<<24 - 1)
	for {
		old := b.Load()
		oTag, oSec, tokens := uint16(old>>48), old>>24&(1<<24-1), old&(1<<24-1)
		switch {
		case oTag != tag || old == 0:
			tokens = r.burst // a new key: a full bucket
		case oSec != now:
			elapsed := (now - oSec) & (1<<24 - 1)
			tokens = min(r.burst, tokens+elapsed*r.rate)
		}
		ok := tokens > 0
		if ok {
			tokens--
		}
		if b.CompareAndSwap(old, uint64(tag)<<48|now<<24|tokens) {
			return ok
		}
	}
}

// noteLimited logs that responses to network are limited, at most every
// 10 s, with the number limited since: the log of a flood is a flood.
func (r *rrl) noteLimited(network netip.Prefix, now time.Time) {
	n, due := r.logged.note(now)
	if !due {
		return
	}
	r.log.Warn("rate limiting responses (RRL)", "network", network.String(), "limited_since_last_line", n)
}

// responseKind is the bucket kind of a response, and whether its bucket
// is per name.
func responseKind(resp []byte) (kind int, byName bool) {
	rcode := resp[3] & 0x0F
	switch {
	case rcode == 3:
		return rrlNXDomain, false
	case rcode != 0:
		return rrlError, false
	case binary.BigEndian.Uint16(resp[6:]) == 0 && resp[2]&0x04 == 0 && binary.BigEndian.Uint16(resp[8:]) > 0:
		return rrlReferral, true // no answer, not authoritative, authority records
	default:
		return rrlAnswer, true
	}
}

// writeLowerName hashes req's question name, lower-cased.
func writeLowerName(h *maphash.Hash, req []byte) {
	end := plainName(req, 12)
	if end < 0 {
		return
	}
	for _, c := range req[12:end] {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h.WriteByte(c)
	}
}

// truncated cuts resp to its header and question with TC=1 and no
// records: the client retries over TCP (RFC 2181 section 9).
func truncated(resp []byte) []byte {
	qend := 12
	if binary.BigEndian.Uint16(resp[4:]) == 1 {
		if end := plainName(resp, 12); end > 0 && end+4 <= len(resp) {
			qend = end + 4
		}
	}
	resp = resp[:qend]
	resp[2] |= 0x02
	if qend == 12 {
		binary.BigEndian.PutUint16(resp[4:], 0)
	}
	binary.BigEndian.PutUint16(resp[6:], 0)
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 0)
	return resp
}

// badCookie turns resp into a BADCOOKIE response (header, question, an
// OPT with the extended rcode and a fresh cookie for client at ip).
func (r *rrl) badCookie(resp, client []byte, ip netip.Addr) []byte {
	b := truncated(resp)
	b[2] &^= 0x02                          // not truncated: the client retries with the cookie
	b[3] = b[3]&0xF0 | rcodeBadCookie&0x0F // the low 4 bits; the high 8 go in the OPT
	binary.BigEndian.PutUint16(b[10:], 1)
	b = append(b, 0, 0, typeOPT, byte(maxUDPPayload>>8), byte(maxUDPPayload&0xFF), rcodeBadCookie>>4, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, 4+clientCookieLen+serverCookieLen)
	b = binary.BigEndian.AppendUint16(b, optionCookie)
	b = binary.BigEndian.AppendUint16(b, clientCookieLen+serverCookieLen)
	b = append(b, client...)
	return r.cookies.appendServer(b, client, ip)
}
