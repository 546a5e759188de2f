//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of <sys/socket.h> on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// ctrlSize holds one SCM_TIMESTAMPNS control message (header + timespec).
const ctrlSize = 64

// vec is a set of datagrams for one sendmmsg or recvmmsg call; the
// kernel-facing arrays are allocated once and reused.
type vec struct {
	hdrs []mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
	ctrl []byte
}

func newVec(n, bufSize int, withCtrl bool) *vec {
	v := &vec{hdrs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n), bufs: make([][]byte, n)}
	if withCtrl {
		v.ctrl = make([]byte, n*ctrlSize)
	}
	for i := range n {
		v.bufs[i] = make([]byte, bufSize)
		v.hdrs[i].hdr.Iov = &v.iovs[i]
		v.hdrs[i].hdr.SetIovlen(1)
	}
	return v
}

// recv reads up to len(v.hdrs) datagrams without blocking; 0, nil when
// none is queued.
func (v *vec) recv(fd int) (int, error) {
	for i := range v.hdrs {
		v.iovs[i].Base = &v.bufs[i][0]
		v.iovs[i].SetLen(len(v.bufs[i]))
		if v.ctrl != nil {
			v.hdrs[i].hdr.Control = &v.ctrl[i*ctrlSize]
			v.hdrs[i].hdr.SetControllen(ctrlSize)
		}
		v.hdrs[i].hdr.Flags = 0
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&v.hdrs[0])), uintptr(len(v.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		}
		return 0, e
	}
}

// datagram is the i-th received datagram.
func (v *vec) datagram(i int) []byte { return v.bufs[i][:v.hdrs[i].n] }

// stamp is the kernel's receive time of the i-th datagram in Unix
// nanoseconds, or 0 if it carries none.
func (v *vec) stamp(i int) int64 {
	if v.ctrl == nil {
		return 0
	}
	c := v.ctrl[i*ctrlSize : i*ctrlSize+int(v.hdrs[i].hdr.Controllen)]
	for len(c) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(c) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS && l >= unix.CmsgLen(16) {
			d := c[unix.CmsgLen(0):]
			sec := int64(binary.NativeEndian.Uint64(d))
			nsec := int64(binary.NativeEndian.Uint64(d[8:]))
			return sec*1e9 + nsec
		}
		c = c[unix.CmsgSpace(l-unix.CmsgLen(0)):]
	}
	return 0
}

// send writes the first k datagrams, whose lengths are in lens; it returns
// how many the kernel took (0, nil when the socket buffer is full).
func (v *vec) send(fd int, lens []int) (int, error) {
	k := len(lens)
	for i := range k {
		v.iovs[i].Base = &v.bufs[i][0]
		v.iovs[i].SetLen(lens[i])
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&v.hdrs[0])), uintptr(k), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.ENOBUFS:
			return 0, nil
		}
		return 0, e
	}
}

// dial opens a non-blocking UDP socket connected to server, with big
// buffers and kernel receive timestamps.
func dial(server netip.AddrPort) (int, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if server.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(server.Port()), Addr: server.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(server.Port()), Addr: server.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	const size = 8 << 20
	// the FORCE variants pass rmem_max/wmem_max as root; the plain ones
	// are capped at them
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, size)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", server, err)
	}
	return fd, nil
}

// waitReadable blocks until one of fds is readable or timeoutNs passes.
func waitReadable(pfds []unix.PollFd, timeoutNs int64) error {
	if timeoutNs < 0 {
		timeoutNs = 0
	}
	ts := unix.NsecToTimespec(timeoutNs)
	for i := range pfds {
		pfds[i].Events = unix.POLLIN
		pfds[i].Revents = 0
	}
	_, err := unix.Ppoll(pfds, &ts, nil)
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	return err
}

// sleepNs sleeps ns nanoseconds on this thread.
func sleepNs(ns int64) {
	ts := unix.NsecToTimespec(ns)
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}

// lowTimerSlack asks for exact wake-ups on this thread (the default slack,
// 50 us, would blur the pacing of a fixed rate).
func lowTimerSlack() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0) }

func closeFd(fd int) { _ = unix.Close(fd) }

func isRefused(err error) bool { return errors.Is(err, unix.ECONNREFUSED) }
