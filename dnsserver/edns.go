package dnsserver

import (
	"encoding/binary"
	"net/netip"
)

// EDNS (RFC 6891) and client subnet (RFC 7871) on the wire. miekg/dns
// parses ECS into net.IP and re-masks it when packing, which loses what the
// client actually sent; RFC 7871 section 7.2.1 wants FAMILY, SOURCE
// PREFIX-LENGTH and ADDRESS echoed exactly. So both paths read the option
// bytes themselves and write them back with only SCOPE changed.

const (
	// maxUDPPayload is the most we send over UDP and what we advertise:
	// 1232 avoids IP fragmentation on any path (DNS flag day 2020).
	maxUDPPayload = 1232
	// minUDPPayload is the RFC 1035 limit without EDNS; smaller
	// advertised sizes count as 512 (RFC 6891 section 6.2.5).
	minUDPPayload = 512

	optionNSID   = 3 // RFC 5001
	optionSubnet = 8 // RFC 7871

	typeOPT = 41
)

// ecs is a parsed client subnet option.
type ecs struct {
	present bool
	family  uint16
	source  uint8
	addr    netip.Addr // the address, zero bits after source
	raw     []byte     // ADDRESS as sent (aliases the request)
}

// parseECS reads an ECS option body. ok is false for a malformed option,
// which is answered with FORMERR (RFC 7871 section 7.1.1 and 6): a family
// other than 1 (IPv4) or 2 (IPv6), a source or scope prefix longer than
// the family's addresses, an ADDRESS not exactly ceil(source/8) octets, or
// address bits set beyond the source prefix.
func parseECS(b []byte) (e ecs, ok bool) {
	if len(b) < 4 {
		return e, false
	}
	e.present = true
	e.family = binary.BigEndian.Uint16(b)
	e.source = b[2]
	a := b[4:]
	var bits int
	switch e.family {
	case 1:
		bits = 32
	case 2:
		bits = 128
	default:
		return e, false
	}
	// A SCOPE in a query must be 0 (section 6); one longer than the
	// family's addresses is malformed (miekg/dns refuses it too).
	if int(e.source) > bits || int(b[3]) > bits || len(a) != (int(e.source)+7)/8 {
		return e, false
	}
	if rem := e.source % 8; rem != 0 && a[len(a)-1]&(0xff>>rem) != 0 {
		return e, false
	}
	e.raw = a
	var buf [16]byte
	copy(buf[:], a)
	if e.family == 1 {
		e.addr = netip.AddrFrom4([4]byte(buf[:4]))
	} else {
		e.addr = netip.AddrFrom16(buf)
	}
	return e, true
}

// appendECS appends an ECS option (code, length, body) echoing e with the
// given scope.
func appendECS(b []byte, e *ecs, scope uint8) []byte {
	b = binary.BigEndian.AppendUint16(b, optionSubnet)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(e.raw)))
	return appendECSBody(b, e, scope)
}

func appendECSBody(b []byte, e *ecs, scope uint8) []byte {
	b = binary.BigEndian.AppendUint16(b, e.family)
	b = append(b, e.source, scope)
	return append(b, e.raw...)
}

// clientOf is who Select locates: the ECS address when the query carried
// one with a non-zero source prefix, else the packet source with its full
// length (RFC 7871 section 7.1.2: /0 means "use the source address").
func clientOf(e *ecs, src netip.Addr) (netip.Addr, int) {
	if e.present && e.source > 0 {
		return e.addr, int(e.source)
	}
	src = src.Unmap()
	return src, src.BitLen()
}

// scopeFor is the SCOPE PREFIX-LENGTH we return: the service decision's
// prefix, 0 for data that does not depend on the client, and 0 when the
// client sent /0 (RFC 7871 section 7.2.1).
func scopeFor(e *ecs, scope uint8) uint8 {
	if e.source == 0 {
		return 0
	}
	return scope
}

// udpLimit is the largest UDP response for a query: 512 without EDNS,
// else the client's size clamped to [512, 1232] (RFC 6891 section 6.2.5).
func udpLimit(hasOPT bool, size uint16) int {
	if !hasOPT {
		return minUDPPayload
	}
	return min(max(int(size), minUDPPayload), maxUDPPayload)
}

// skipName returns the offset after the (possibly compressed) name at off,
// or -1 when it runs out of the message.
func skipName(msg []byte, off int) int {
	for {
		if off >= len(msg) {
			return -1
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		default:
			return -1
		}
	}
}

// findOPT returns the RDATA of the first OPT RR of the additional
// section, walking a message miekg/dns already unpacked without error.
func findOPT(msg []byte) (rdata []byte, found bool) {
	if len(msg) < 12 {
		return nil, false
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))
	off := 12
	for i := 0; i < qd; i++ {
		if off = skipName(msg, off); off < 0 || off+4 > len(msg) {
			return nil, false
		}
		off += 4
	}
	for i := 0; i < an+ns+ar; i++ {
		if off = skipName(msg, off); off < 0 || off+10 > len(msg) {
			return nil, false
		}
		t := binary.BigEndian.Uint16(msg[off:])
		l := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		if off+l > len(msg) {
			return nil, false
		}
		if t == typeOPT && i >= an+ns {
			return msg[off : off+l], true
		}
		off += l
	}
	return nil, false
}

// optOption returns the body of the first option with code in an OPT RDATA.
func optOption(rdata []byte, code uint16) ([]byte, bool) {
	for len(rdata) >= 4 {
		c := binary.BigEndian.Uint16(rdata)
		l := int(binary.BigEndian.Uint16(rdata[2:]))
		if 4+l > len(rdata) {
			return nil, false
		}
		if c == code {
			return rdata[4 : 4+l], true
		}
		rdata = rdata[4+l:]
	}
	return nil, false
}
