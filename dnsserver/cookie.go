package dnsserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/dchest/siphash"
)

// DNS cookies (RFC 7873) with the interoperable server cookies of RFC
// 9018: a client that sends a cookie gets back its client cookie and a
// server cookie, which proves on its next queries that it really receives
// what is sent to its address. Such clients are exempt from response
// rate limiting, and a limited client with a cookie gets BADCOOKIE with a
// fresh one instead of a slip (rrl.go). Every site with the same secret
// makes and accepts the same cookies, so anycast and several name
// servers work; a secret rotates by adding the new one first and keeping
// the old one second until the cookies made with it are stale (an hour).

const (
	optionCookie       = 10 // RFC 7873 section 4
	clientCookieLen    = 8
	serverCookieLen    = 16 // RFC 9018 section 4: version, reserved, time, hash
	cookieVersion      = 1
	cookieMaxAge       = 3600 // RFC 9018 section 4.3: older cookies are stale
	cookieMaxFuture    = 300  // and newer than now + 5 minutes invalid
	CookieSecretLength = 16   // SipHash-2-4's key
	rcodeBadCookie     = 23   // RFC 7873 section 8
)

// cookies makes and checks server cookies with its secrets: the first
// makes them, any verifies them.
type cookies struct {
	secrets [][CookieSecretLength]byte
	now     func() time.Time
}

func newCookies(secrets [][CookieSecretLength]byte) *cookies {
	if len(secrets) == 0 {
		// No shared secret configured: one of this process's own, so that
		// cookies work against this instance (not across its restarts or
		// other sites).
		var s [CookieSecretLength]byte
		_, _ = rand.Read(s[:])
		secrets = [][CookieSecretLength]byte{s}
	}
	return &cookies{secrets: secrets, now: time.Now}
}

// hash is RFC 9018 section 4.4's Hash over the client cookie, the first
// eight bytes of the server cookie and the client's address.
func hash(secret *[CookieSecretLength]byte, client, head []byte, ip netip.Addr) uint64 {
	var buf [clientCookieLen + 8 + 16]byte
	n := copy(buf[:], client)
	n += copy(buf[n:], head[:8])
	if ip.Is4() {
		a := ip.As4()
		n += copy(buf[n:], a[:])
	} else {
		a := ip.As16()
		n += copy(buf[n:], a[:])
	}
	return siphash.Hash(binary.LittleEndian.Uint64(secret[:8]), binary.LittleEndian.Uint64(secret[8:]), buf[:n])
}

// appendServer appends a new server cookie for client at ip.
func (c *cookies) appendServer(b, client []byte, ip netip.Addr) []byte {
	start := len(b)
	b = append(b, cookieVersion, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(c.now().Unix()))
	return binary.BigEndian.AppendUint64(b, hash(&c.secrets[0], client, b[start:], ip))
}

// valid reports whether server is a server cookie one of the secrets
// made for client at ip, and is not stale.
func (c *cookies) valid(client, server []byte, ip netip.Addr) bool {
	if len(client) != clientCookieLen || len(server) != serverCookieLen || server[0] != cookieVersion {
		return false
	}
	// Serial number arithmetic (RFC 1982): the difference wraps.
	age := int32(uint32(c.now().Unix()) - binary.BigEndian.Uint32(server[4:]))
	if age > cookieMaxAge || age < -cookieMaxFuture {
		return false
	}
	var want [8]byte
	for i := range c.secrets {
		binary.BigEndian.PutUint64(want[:], hash(&c.secrets[i], client, server, ip))
		if subtle.ConstantTimeCompare(want[:], server[8:]) == 1 {
			return true
		}
	}
	return false
}

// cookieIn is a query's COOKIE option.
type cookieIn struct {
	client []byte // 8 bytes; nil: no cookie option
	server []byte // as sent: empty, or 8 to 32 bytes
}

// parseCookie reads the COOKIE option of an OPT RDATA; ok is false when
// the option is malformed (RFC 7873 section 5.2.2: FORMERR).
func parseCookie(rdata []byte) (ck cookieIn, ok bool) {
	body, present := optOption(rdata, optionCookie)
	if !present {
		return ck, true
	}
	return parseCookieBody(body)
}

// parseCookieBody reads a COOKIE option's body: a client cookie of 8
// bytes, then nothing or a server cookie of 8 to 32.
func parseCookieBody(body []byte) (ck cookieIn, ok bool) {
	if n := len(body); n != clientCookieLen && (n < clientCookieLen+8 || n > clientCookieLen+32) {
		return ck, false
	}
	return cookieIn{client: body[:clientCookieLen], server: body[clientCookieLen:]}, true
}

// validCookie reports whether req (a query's bytes) from ip carries a
// valid server cookie: RRL exempts it.
func (c *cookies) validCookie(req []byte, ip netip.Addr) (ck cookieIn, valid bool) {
	rdata, found := findOPT(req)
	if !found {
		return ck, false
	}
	ck, ok := parseCookie(rdata)
	if !ok || ck.client == nil {
		return cookieIn{}, false
	}
	return ck, c.valid(ck.client, ck.server, ip)
}
