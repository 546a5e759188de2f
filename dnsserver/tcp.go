package dnsserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"
	"unsafe"
)

// DNS over TCP (RFC 7766): 2-byte length framing (RFC 1035 section
// 4.2.2), many queries per connection, pipelined queries answered as they
// are read (in order, which section 6.2.1.1 permits), each response sent
// with one write, an idle timeout (section 6.2.3) and a cap on open
// connections.

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
		if !s.track(c) {
			c.Close() // over MaxTCPConns, or shutting down
			continue
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() || len(s.conns) >= s.cfg.MaxTCPConns {
		return false
	}
	s.conns[c] = struct{}{}
	s.m.tcpConns.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.m.tcpConns.Add(-1)
	c.Close()
}

func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer s.untrack(c)
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
		resp := s.h.serve(&sc, req[:n], src, protoTCP, out[2:2])
		if resp == nil {
			continue
		}
		frame := out[:2+len(resp)]
		if len(resp) > 0 && unsafe.SliceData(resp) != &out[2] {
			copy(frame[2:], resp)
		}
		binary.BigEndian.PutUint16(frame, uint16(len(resp)))
		c.SetWriteDeadline(time.Now().Add(s.cfg.TCPIdleTimeout))
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}
