package dnsserver

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// xnetBatcher uses x/net's ReadBatch/WriteBatch (recvmmsg/sendmmsg on
// Linux). x/net allocates the source *net.UDPAddr of every datagram (two
// small allocations); a hand-rolled recvmmsg/sendmmsg with raw syscalls
// avoided them but measured no faster on one core (the kernel's loopback
// send dominates), so the portable path stays.
type xnetBatcher struct {
	pc interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
	}
	rms   [udpBatch]ipv4.Message
	wms   [udpBatch]ipv4.Message
	rbufs [udpBatch][1][]byte
	wbufs [udpBatch][1][]byte
	n, w  int
}

func newXnetBatcher(c *net.UDPConn) (batcher, error) {
	b := &xnetBatcher{pc: ipv4.NewPacketConn(c)}
	if a := c.LocalAddr().(*net.UDPAddr); a.IP.To4() == nil {
		b.pc = ipv6.NewPacketConn(c)
	}
	for i := range b.rms {
		b.rbufs[i][0] = make([]byte, udpReadBuf)
		b.rms[i].Buffers = b.rbufs[i][:]
	}
	return b, nil
}

func (b *xnetBatcher) recv() (int, error) {
	n, err := b.pc.ReadBatch(b.rms[:], 0)
	b.n = n
	return n, err
}

func (b *xnetBatcher) msg(i int) ([]byte, netip.Addr, bool) {
	m := &b.rms[i]
	ua, ok := m.Addr.(*net.UDPAddr)
	if !ok || m.N >= udpReadBuf {
		return nil, netip.Addr{}, false
	}
	return b.rbufs[i][0][:m.N], ua.AddrPort().Addr(), true
}

func (b *xnetBatcher) queue(i int, resp []byte) {
	b.wbufs[b.w][0] = resp
	b.wms[b.w].Buffers = b.wbufs[b.w][:]
	b.wms[b.w].Addr = b.rms[i].Addr
	b.w++
}

func (b *xnetBatcher) flush() error {
	w := b.w
	b.w = 0
	for sent := 0; sent < w; {
		k, err := b.pc.WriteBatch(b.wms[sent:w], 0)
		if err != nil {
			if sent+1 >= w {
				return err
			}
			k = 1 // skip the message that failed
		}
		sent += k
	}
	return nil
}
