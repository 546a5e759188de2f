package scale

import (
	"encoding/binary"
	"errors"
	"strings"
)

// The few bits of RFC 1035 wire format the load generator needs. test/
// may not import miekg/dns outside tests (only dnsserver owns it), and a
// query for an A record is a dozen lines.

// Query is the wire form of a query for name (fully qualified) and type
// qtype, class IN, id 0, RD clear (an authoritative server's traffic).
func Query(name string, qtype uint16) []byte {
	b := make([]byte, 12, 12+len(name)+6)
	binary.BigEndian.PutUint16(b[4:], 1) // QDCOUNT
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1) // IN
}

// SetID writes id into a query or response.
func SetID(msg []byte, id uint16) { binary.BigEndian.PutUint16(msg, id) }

// Response is what the load generator reads of an answer.
type Response struct {
	ID      uint16
	Rcode   int
	Answers int
	// TTL and A are the first answer's TTL and, for an A record, address.
	TTL uint32
	A   [4]byte
}

var errShort = errors.New("dns: short message")

// ParseResponse reads the header and the first answer of msg.
func ParseResponse(msg []byte) (Response, error) {
	if len(msg) < 12 {
		return Response{}, errShort
	}
	r := Response{
		ID:      binary.BigEndian.Uint16(msg),
		Rcode:   int(msg[3] & 0x0f),
		Answers: int(binary.BigEndian.Uint16(msg[6:])),
	}
	off := 12
	for range binary.BigEndian.Uint16(msg[4:]) { // questions
		var err error
		if off, err = skipName(msg, off); err != nil {
			return r, err
		}
		off += 4
	}
	if r.Answers == 0 {
		return r, nil
	}
	off, err := skipName(msg, off)
	if err != nil {
		return r, err
	}
	if off+10 > len(msg) {
		return r, errShort
	}
	typ := binary.BigEndian.Uint16(msg[off:])
	r.TTL = binary.BigEndian.Uint32(msg[off+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	if typ == 1 && rdlen == 4 && off+14 <= len(msg) {
		copy(r.A[:], msg[off+10:off+14])
	}
	return r, nil
}

// skipName returns the offset after the name at off (RFC 1035 4.1.4: a
// name ends with a zero label or a compression pointer).
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return 0, errShort
		}
		n := int(msg[off])
		switch {
		case n == 0:
			return off + 1, nil
		case n&0xc0 == 0xc0:
			return off + 2, nil
		}
		off += 1 + n
	}
}
