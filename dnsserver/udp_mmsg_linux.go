//go:build linux

package dnsserver

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatcher calls recvmmsg and sendmmsg itself, as raw system calls
// that the Go scheduler does not see. Profiles of the w2 benchmark showed
// why: a sendmmsg of 32 replies on loopback runs the whole receive path of
// the peer and takes long enough (tens of µs) that the runtime's sysmon
// hands the P to another thread mid-call, which then polls, finds nothing
// and parks, and the sender must win its P back: about 18,000 context
// switches and 14,000 epoll_pwait calls a second at 140k qps. The socket
// is non-blocking, so a raw call never sleeps in the kernel; when there is
// nothing to read, RawConn.Read parks the goroutine on the netpoller as
// usual. It also avoids x/net's per-datagram address allocations.
type mmsgBatcher struct {
	rc    syscall.RawConn
	rhdr  [udpBatch]unix.Mmsghdr
	riov  [udpBatch]unix.Iovec
	names [udpBatch]unix.RawSockaddrInet6 // large enough for IPv4 too
	bufs  [udpBatch][udpReadBuf]byte
	whdr  [udpBatch]unix.Mmsghdr
	wiov  [udpBatch]unix.Iovec
	w     int

	// results of the callbacks, kept in the struct so the closures
	// below are allocated once
	n       int
	errno   syscall.Errno
	sent, k int
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

func newBatcher(c *net.UDPConn) (batcher, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &mmsgBatcher{rc: rc}
	for i := range b.rhdr {
		b.riov[i].Base = &b.bufs[i][0]
		b.rhdr[i].Hdr.Iov = &b.riov[i]
		b.rhdr[i].Hdr.Iovlen = 1
		b.rhdr[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.whdr[i].Hdr.Iov = &b.wiov[i]
		b.whdr[i].Hdr.Iovlen = 1
	}
	b.readFn = func(fd uintptr) bool {
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rhdr[0])), udpBatch, 0, 0, 0)
		if e == unix.EAGAIN {
			return false // wait on the netpoller
		}
		b.n, b.errno = int(n), e
		return true
	}
	b.writeFn = func(fd uintptr) bool {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.whdr[b.sent])), uintptr(b.w-b.sent), 0, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		b.k, b.errno = int(n), e
		return true
	}
	return b, nil
}

func (b *mmsgBatcher) recv() (int, error) {
	for i := range b.rhdr {
		b.riov[i].SetLen(udpReadBuf)
		b.rhdr[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.rhdr[i].Hdr.Flags = 0
		b.rhdr[i].Len = 0
	}
	for {
		b.n, b.errno = 0, 0
		if err := b.rc.Read(b.readFn); err != nil {
			return 0, err // net.ErrClosed after Shutdown
		}
		switch b.errno {
		case 0:
			return b.n, nil
		case unix.EINTR:
			continue
		}
		return 0, b.errno
	}
}

func (b *mmsgBatcher) msg(i int) ([]byte, netip.Addr, bool) {
	h := &b.rhdr[i]
	if h.Hdr.Flags&unix.MSG_TRUNC != 0 || int(h.Len) >= udpReadBuf {
		return nil, netip.Addr{}, false
	}
	var a netip.Addr
	switch b.names[i].Family {
	case unix.AF_INET:
		a = netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(&b.names[i])).Addr)
	case unix.AF_INET6:
		a = netip.AddrFrom16(b.names[i].Addr).Unmap()
	default:
		return nil, netip.Addr{}, false
	}
	return b.bufs[i][:h.Len], a, true
}

func (b *mmsgBatcher) queue(i int, resp []byte) {
	if len(resp) == 0 {
		return
	}
	b.wiov[b.w].Base = &resp[0]
	b.wiov[b.w].SetLen(len(resp))
	b.whdr[b.w].Hdr.Name = b.rhdr[i].Hdr.Name
	b.whdr[b.w].Hdr.Namelen = b.rhdr[i].Hdr.Namelen
	b.w++
}

func (b *mmsgBatcher) flush() error {
	defer func() { b.w, b.sent = 0, 0 }()
	for b.sent < b.w {
		b.k, b.errno = 0, 0
		if err := b.rc.Write(b.writeFn); err != nil {
			return err
		}
		switch b.errno {
		case 0:
			b.sent += b.k
		case unix.EINTR:
		default:
			if b.sent+1 >= b.w {
				return b.errno
			}
			b.sent++ // skip the datagram that failed (say, an unreachable source)
		}
	}
	return nil
}
