package dnsserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
	"unsafe"
)

// DNS over TCP (RFC 7766): 2-byte length framing (RFC 1035 section
// 4.2.2), many queries per connection, pipelined queries answered as they
// are read (in order, which section 6.2.1.1 permits), each response sent
// with one write, an idle timeout (section 6.2.3), and caps on open
// connections per client and in all (track).

func (s *Server) serveTCP(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return
			}
			s.log.Debug("dns: tcp accept", "err", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		tc := s.track(c)
		if tc == nil {
			c.Close() // over a cap, or shutting down
			continue
		}
		s.wg.Add(1)
		go s.serveConn(tc)
	}
}

// tcpConn is an open connection as the cap sees it.
type tcpConn struct {
	c   net.Conn
	src netip.Prefix // tcpSource
	// idleSince is when the connection last finished a query (or was
	// accepted), Unix nanoseconds; 0 while a query is in hand.
	idleSince atomic.Int64
}

// tcpSource is the client a connection counts against: its IPv4
// address, or its IPv6 /64 (one host's usual allocation).
func tcpSource(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// track admits c under the caps: MaxTCPConnsPerSource per client, then
// MaxTCPConns in all, where the connection idle the longest is closed to
// make room (RFC 7766 section 6.2.2: idle connections go first). Without
// that, clients that keep connections open with a query now and then
// hold every slot and lock everyone else out of TCP, including resolvers
// retrying a truncated answer.
func (s *Server) track(c net.Conn) *tcpConn {
	var src netip.Prefix
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = tcpSource(ta.AddrPort().Addr())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing.Load():
		return nil
	case s.perSrc[src] >= s.cfg.MaxTCPConnsPerSource:
		s.m.tcpRefused[tcpRefusedPerSource].Add(1)
		return nil
	case len(s.conns) >= s.cfg.MaxTCPConns:
		var oldest *tcpConn
		for _, tc := range s.conns {
			if at := tc.idleSince.Load(); at != 0 && (oldest == nil || at < oldest.idleSince.Load()) {
				oldest = tc
			}
		}
		if oldest == nil {
			s.m.tcpRefused[tcpRefusedFull].Add(1)
			return nil // every connection has a query in hand
		}
		s.forgetLocked(oldest)
		oldest.c.Close() // its goroutine's read fails and it ends
		s.m.tcpRefused[tcpEvictedIdle].Add(1)
	}
	tc := &tcpConn{c: c, src: src}
	tc.idleSince.Store(time.Now().UnixNano())
	s.conns[c] = tc
	s.perSrc[src]++
	s.m.tcpConns.Add(1)
	return tc
}

// forgetLocked drops tc from the counts; s.mu is held.
func (s *Server) forgetLocked(tc *tcpConn) {
	if s.conns[tc.c] != tc {
		return // already forgotten (evicted, then ended)
	}
	delete(s.conns, tc.c)
	if s.perSrc[tc.src]--; s.perSrc[tc.src] <= 0 {
		delete(s.perSrc, tc.src)
	}
	s.m.tcpConns.Add(-1)
}

func (s *Server) untrack(tc *tcpConn) {
	s.mu.Lock()
	s.forgetLocked(tc)
	s.mu.Unlock()
	tc.c.Close()
}

func (s *Server) serveConn(tc *tcpConn) {
	defer s.wg.Done()
	defer s.untrack(tc)
	c := tc.c
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return
	}
	src := ta.AddrPort().Addr()
	br := bufio.NewReaderSize(c, 4096)
	var (
		sc  scratch
		hdr [2]byte
		req = make([]byte, maxMsg)
		out = make([]byte, 2+maxMsg)
	)
	for !s.closing.Load() {
		// The idle timeout runs from the end of the last response to the
		// end of the next query, so a client that trickles a partial
		// frame is cut off too.
		c.SetReadDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(br, req[:n]); err != nil {
			return
		}
		tc.idleSince.Store(0) // a query in hand: not to be evicted
		resp := s.h.serve(&sc, req[:n], src, protoTCP, out[2:2])
		if resp == nil {
			tc.idleSince.Store(time.Now().UnixNano())
			continue
		}
		frame := out[:2+len(resp)]
		if len(resp) > 0 && unsafe.SliceData(resp) != &out[2] {
			copy(frame[2:], resp)
		}
		binary.BigEndian.PutUint16(frame, uint16(len(resp)))
		// Idle from the moment the answer is ready, before it is written:
		// the client cannot send its next query before reading this
		// answer, so the order of idleness is the order of the answers
		// whatever the scheduling. (A connection closed at the cap while
		// its answer is still being written was the slowest reader.)
		answered := time.Now()
		tc.idleSince.Store(answered.UnixNano())
		c.SetWriteDeadline(answered.Add(s.cfg.TCPIdleTimeout))
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}
