// Package dnsq builds the benchmark's DNS queries, reads and writes query
// files, asks one question of a server and picks the parts of a reply the
// checks look at (the A addresses, the ECS scope).
//
// A query file is a sequence of wire-format messages, each preceded by its
// length as a 2-byte big-endian integer (the framing of DNS over TCP, which
// is also what `dnsperf -B` reads), so the files work with dnsperf too.
package dnsq

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// EDNSSize is the UDP payload size the queries with an OPT record announce.
const EDNSSize = 1232

// Query is a question for name and type, RD clear (the servers are
// authoritative). A valid ecs adds an OPT record with an EDNS Client Subnet
// option for that prefix; edns alone adds a bare OPT record.
func Query(name string, qtype uint16, edns bool, ecs netip.Prefix) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	if !edns && !ecs.IsValid() {
		return m
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(EDNSSize)
	if ecs.IsValid() {
		ecs = ecs.Masked()
		family := uint16(1)
		if ecs.Addr().Is6() {
			family = 2
		}
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
			Code:          dns.EDNS0SUBNET,
			Family:        family,
			SourceNetmask: uint8(ecs.Bits()),
			Address:       ecs.Addr().AsSlice(),
		})
	}
	m.Extra = append(m.Extra, opt)
	return m
}

// SetDO sets the DNSSEC OK bit of m (RFC 3225), adding a bare OPT record
// when m has none, and returns m.
func SetDO(m *dns.Msg) *dns.Msg {
	opt := m.IsEdns0()
	if opt == nil {
		opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(EDNSSize)
		m.Extra = append(m.Extra, opt)
	}
	opt.SetDo()
	return m
}

// Writer writes a query file.
type Writer struct {
	w   *bufio.Writer
	buf []byte
	n   int
}

// NewWriter writes framed messages to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 1<<20), buf: make([]byte, 0, 512)}
}

// Add appends one query; its ID is written as 0 (the load generator sets it).
func (w *Writer) Add(m *dns.Msg) error {
	m.Id = 0
	b, err := m.PackBuffer(w.buf[:cap(w.buf)])
	if err != nil {
		return err
	}
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(b)))
	if _, err := w.w.Write(l[:]); err != nil {
		return err
	}
	_, err = w.w.Write(b)
	w.n++
	return err
}

// Count is the number of queries added.
func (w *Writer) Count() int { return w.n }

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// ReadFile returns the messages of a query file, sharing one backing array.
func ReadFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for off := 0; off < len(b); {
		if off+2 > len(b) {
			return nil, fmt.Errorf("%s: truncated length at byte %d", path, off)
		}
		n := int(binary.BigEndian.Uint16(b[off:]))
		off += 2
		if n < 12 || off+n > len(b) {
			return nil, fmt.Errorf("%s: bad message of %d bytes at byte %d", path, n, off-2)
		}
		out = append(out, b[off:off+n:off+n])
		off += n
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no queries", path)
	}
	return out, nil
}

// Ask sends m over UDP to server (from the local address src when valid)
// and returns the reply, waiting 2 s and retrying once on a timeout.
func Ask(server string, m *dns.Msg, src netip.Addr) (*dns.Msg, error) {
	return AskWithin(server, m, src, 2*time.Second, 2)
}

// AskWithin is Ask with a timeout per try and a number of tries.
func AskWithin(server string, m *dns.Msg, src netip.Addr, timeout time.Duration, tries int) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: timeout, UDPSize: EDNSSize}
	if src.IsValid() {
		c.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	}
	var err error
	for try := 0; try < tries; try++ {
		m.Id = dns.Id()
		var r *dns.Msg
		r, _, err = c.Exchange(m, server)
		if err == nil {
			if r.Id != m.Id {
				return nil, errors.New("reply ID does not match")
			}
			return r, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	return nil, err
}

// AddrsA lists the A addresses of the answer section, sorted, comma-separated.
func AddrsA(r *dns.Msg) string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// DO says whether the reply's OPT record has the DNSSEC OK bit.
func DO(r *dns.Msg) bool {
	opt := r.IsEdns0()
	return opt != nil && opt.Do()
}

// Signed checks the answer section of a reply to a query with the DO bit:
// the RRset of type qtype must be there with an RRSIG covering it that is
// valid at now and verifies with one of keys. It returns "" when it does,
// else the reason.
func Signed(r *dns.Msg, qtype uint16, keys []*dns.DNSKEY, now time.Time) string {
	var rrset []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.RRSIG); ok {
			if s.TypeCovered == qtype {
				sigs = append(sigs, s)
			}
		} else if rr.Header().Rrtype == qtype {
			rrset = append(rrset, rr)
		}
	}
	t := dns.TypeToString[qtype]
	switch {
	case len(rrset) == 0:
		return "no " + t + " RRset"
	case len(sigs) == 0:
		return "no RRSIG covering " + t
	}
	why := "no DNSKEY with the RRSIG's tag"
	for _, s := range sigs {
		if !s.ValidityPeriod(now) {
			why = "RRSIG outside its validity period"
			continue
		}
		for _, k := range keys {
			if k.KeyTag() != s.KeyTag || k.Algorithm != s.Algorithm {
				continue
			}
			if err := s.Verify(k, rrset); err != nil {
				why = "RRSIG does not verify: " + err.Error()
				continue
			}
			return ""
		}
	}
	return why
}

// Scope is the ECS scope prefix length of the reply, or -1 when the reply
// has no OPT record or no ECS option.
func Scope(r *dns.Msg) int {
	opt := r.IsEdns0()
	if opt == nil {
		return -1
	}
	for _, o := range opt.Option {
		if s, ok := o.(*dns.EDNS0_SUBNET); ok {
			return int(s.SourceScope)
		}
	}
	return -1
}

// ScopeString shows a scope as "/N", or "none" for -1.
func ScopeString(s int) string {
	if s < 0 {
		return "none"
	}
	return fmt.Sprintf("/%d", s)
}
