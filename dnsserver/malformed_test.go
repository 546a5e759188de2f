package dnsserver_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// Hand-built packets for what a miekg/dns client will not send.

// sendRaw sends b over netw and returns the response, or nil when none
// came within wait. Over TCP it then sends a good query on the same
// connection, to show that the server kept the connection and skipped the
// bad message.
func sendRaw(t *testing.T, netw, addr string, b []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial(netw, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if netw == "udp" {
		c.Write(b)
		c.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	good, _ := query("app.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.Id = 0xBEEF }).Pack()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
	frame = append(frame, b...)
	frame = binary.BigEndian.AppendUint16(frame, uint16(len(good)))
	frame = append(frame, good...)
	c.Write(frame)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var first []byte
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("tcp: connection ended before the good query was answered: %v", err)
		}
		msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			t.Fatal(err)
		}
		if len(msg) >= 2 && binary.BigEndian.Uint16(msg) == 0xBEEF {
			return first
		}
		first = msg
	}
}

func header(id uint16, flags uint16, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], qd)
	binary.BigEndian.PutUint16(b[6:], an)
	binary.BigEndian.PutUint16(b[8:], ns)
	binary.BigEndian.PutUint16(b[10:], ar)
	return b
}

var appQuestion = []byte{3, 'a', 'p', 'p', 4, 'g', 's', 'l', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestMalformed(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	opt := []byte{0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name     string
		pkt      []byte
		rcode    int // -1: no answer
		question bool
	}{
		{"shorter than a header", []byte{0x12, 0x34, 0, 0, 0}, -1, false},
		{"QR=1", cat(header(0x1234, 0x8000, 1, 0, 0, 0), appQuestion), -1, false},
		{"QDCOUNT 0", header(0x1234, 0, 0, 0, 0, 0), dns.RcodeFormatError, false},
		{"QDCOUNT 2", cat(header(0x1234, 0, 2, 0, 0, 0), appQuestion, appQuestion), dns.RcodeFormatError, false},
		{"question cut short", cat(header(0x1234, 0, 1, 0, 0, 0), appQuestion[:9]), dns.RcodeFormatError, false},
		{"label too long", cat(header(0x1234, 0, 1, 0, 0, 0), []byte{70, 'a', 'b'}), dns.RcodeFormatError, false},
		{"counts beyond the message", cat(header(0x1234, 0, 1, 0, 0, 3), appQuestion, opt[:5]), dns.RcodeFormatError, true},
		{"two OPT", cat(header(0x1234, 0, 1, 0, 0, 2), appQuestion, opt, opt), dns.RcodeFormatError, true},
		{"OPT not at the root", cat(header(0x1234, 0, 1, 0, 0, 1), appQuestion, []byte{1, 'x'}, opt), dns.RcodeFormatError, true},
		{"good, with TC set", cat(header(0x1234, 0x0200, 1, 0, 0, 0), appQuestion), dns.RcodeSuccess, true},
		{"opcode 15", cat(header(0x1234, 15<<11, 1, 0, 0, 0), appQuestion), dns.RcodeNotImplemented, true},
		// ISC's opcodeflg: every flag set (QR aside), which must not come back.
		{"opcode 15, every flag", cat(header(0x1234, 15<<11|0x07f0, 1, 0, 0, 0), appQuestion), dns.RcodeNotImplemented, true},
		{"QDCOUNT 0 with OPT", cat(header(0x1234, 0, 0, 0, 0, 1), opt), dns.RcodeFormatError, false},
	} {
		for _, netw := range transports {
			t.Run(netw+"/"+tc.name, func(t *testing.T) {
				resp := sendRaw(t, netw, addr, tc.pkt, 300*time.Millisecond)
				if tc.rcode < 0 {
					if resp != nil {
						t.Fatalf("answered % x", resp)
					}
					return
				}
				if resp == nil {
					t.Fatal("no answer")
				}
				if len(resp) < 12 || binary.BigEndian.Uint16(resp) != 0x1234 || resp[2]&0x80 == 0 {
					t.Fatalf("bad header % x", resp)
				}
				m := new(dns.Msg)
				if err := m.Unpack(resp); err != nil {
					t.Fatalf("response does not parse: %v", err)
				}
				if m.Rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
				}
				if (len(m.Question) == 1) != tc.question {
					t.Errorf("question %v, want present=%v", m.Question, tc.question)
				}
				if tc.rcode == dns.RcodeNotImplemented && m.Opcode != 15 {
					t.Errorf("opcode not echoed")
				}
				if tc.rcode == dns.RcodeNotImplemented && (m.RecursionDesired || m.CheckingDisabled || m.Authoritative || m.Truncated || m.RecursionAvailable || m.AuthenticatedData || m.Zero) {
					t.Errorf("NOTIMP with flags set: %s", m.MsgHdr.String())
				}
				// RFC 6891 section 6.1.1: an OPT in a query that parsed
				// gets one back (our FORMERR of a malformed one aside).
				hadOPT := bytes.Contains(tc.pkt, opt)
				if wantOPT := hadOPT && (tc.rcode != dns.RcodeFormatError || strings.HasPrefix(tc.name, "QDCOUNT")); (m.IsEdns0() != nil) != wantOPT {
					t.Errorf("OPT in the response %v, want %v", m.IsEdns0() != nil, wantOPT)
				}
			})
		}
	}
}
