package dnsserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// UDP: n sockets per address bound with SO_REUSEPORT, so the kernel
// spreads queries over them, each served by one goroutine that reads and
// writes in batches (recvmmsg/sendmmsg) with buffers it reuses (design
// section 4).

const (
	udpBatch   = 32   // messages per recvmmsg/sendmmsg
	udpReadBuf = 4096 // larger queries are dropped (MSG_TRUNC)
	udpOutBuf  = 4096 // general-path responses larger than this allocate
	udpSockBuf = 4 << 20
)

func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		if serr == nil {
			// Best effort: a bigger receive queue absorbs bursts.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpSockBuf)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// listenUDP binds n sockets on addr; with port 0 the first picks the port
// and the others join it.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: reusePort}
	var out []*net.UDPConn
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, err
		}
		c := pc.(*net.UDPConn)
		out = append(out, c)
		if i == 0 {
			addr = c.LocalAddr().String()
		}
	}
	return out, nil
}

// batcher moves batches of datagrams for one socket: recv fills up to
// udpBatch messages, msg returns one of them with its source, queue sets a
// reply to message i, flush sends the queued replies (udp_batch.go).
type batcher interface {
	recv() (int, error)
	msg(i int) ([]byte, netip.Addr, bool)
	queue(i int, resp []byte)
	flush() error
}

func (s *Server) serveUDP(c *net.UDPConn) {
	defer s.wg.Done()
	b, err := newBatcher(c)
	if err != nil {
		s.log.Error("dns: udp socket", "addr", c.LocalAddr(), "err", err)
		return
	}
	var sc scratch
	outs := make([][]byte, udpBatch)
	for i := range outs {
		outs[i] = make([]byte, 0, udpOutBuf)
	}
	for {
		n, err := b.recv()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return
			}
			s.log.Debug("dns: udp read", "err", err)
			continue
		}
		for i := 0; i < n; i++ {
			req, src, ok := b.msg(i)
			if !ok {
				continue
			}
			if resp := s.h.serve(&sc, req, src, protoUDP, outs[i][:0]); resp != nil {
				b.queue(i, resp)
			}
		}
		if err := b.flush(); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("dns: udp write", "err", err)
		}
	}
}
