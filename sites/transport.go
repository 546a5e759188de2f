package sites

import (
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// muxTransport is memberlist's NetTransport with the state transfer on
// the same TCP port (the protocol is described in transfer.go).
type muxTransport struct {
	*memberlist.NetTransport
	streams chan net.Conn
	serve   func(net.Conn)
	filter  *netFilter
	done    chan struct{}
	wg      sync.WaitGroup
	stop    sync.Once
}

var _ memberlist.NodeAwareTransport = (*muxTransport)(nil)

func newMuxTransport(addr string, port int, logger *log.Logger, serve func(net.Conn), filter *netFilter) (*muxTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{addr}, BindPort: port, Logger: logger}
	// With port 0 the kernel picks a TCP port, and the UDP one may be
	// taken: retry, as memberlist does when it builds its own transport.
	tries := 1
	if port == 0 {
		tries = 10
	}
	var nt *memberlist.NetTransport
	var err error
	for range tries {
		if nt, err = memberlist.NewNetTransport(nc); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	t := &muxTransport{
		NetTransport: nt,
		streams:      make(chan net.Conn),
		serve:        serve,
		filter:       filter,
		done:         make(chan struct{}),
	}
	t.wg.Add(1)
	go t.route()
	return t, nil
}

func (t *muxTransport) port() int { return t.GetAutoBindPort() }

// StreamCh is what memberlist reads: connections that are not ours.
func (t *muxTransport) StreamCh() <-chan net.Conn { return t.streams }

func (t *muxTransport) route() {
	defer t.wg.Done()
	in := t.NetTransport.StreamCh()
	for {
		select {
		case <-t.done:
			return
		case c := <-in:
			t.wg.Add(1)
			go t.classify(c)
		}
	}
}

// classify reads a connection's first byte and hands it to the transfer
// server or to memberlist.
func (t *muxTransport) classify(c net.Conn) {
	defer t.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if b[0] == streamMagic {
		t.serve(c)
		return
	}
	select {
	case t.streams <- &peekedConn{Conn: c, first: b[0], pending: true}:
	case <-t.done:
		_ = c.Close()
	}
}

// dial opens a transfer connection, through the test filter.
func (t *muxTransport) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if t.filter.blocked(addr) {
		return nil, errFiltered
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

func (t *muxTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.filter.blocked(addr) {
		return time.Now(), nil // dropped, as a lost packet
	}
	return t.NetTransport.WriteTo(b, addr)
}

func (t *muxTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.filter.blocked(a.Addr) {
		return time.Now(), nil
	}
	return t.NetTransport.WriteToAddress(b, a)
}

func (t *muxTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.filter.blocked(addr) {
		return nil, errFiltered
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

func (t *muxTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.filter.blocked(a.Addr) {
		return nil, errFiltered
	}
	return t.NetTransport.DialAddressTimeout(a, timeout)
}

// Shutdown closes the listeners. route keeps draining the inner stream
// channel meanwhile: NetTransport's accept loop blocks handing over a
// connection, and its Shutdown waits for that loop.
func (t *muxTransport) Shutdown() error {
	err := t.NetTransport.Shutdown()
	t.stop.Do(func() { close(t.done) })
	return err
}

// wait returns when every routed connection has been handed over or
// served.
func (t *muxTransport) wait() { t.wg.Wait() }

// peekedConn gives back the byte the transport read.
type peekedConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		c.pending = false
		p[0] = c.first
		return 1, nil
	}
	return c.Conn.Read(p)
}

// netFilter drops traffic to chosen addresses: tests cut the network
// between nodes with it. A nil filter blocks nothing.
type netFilter struct {
	mu  sync.RWMutex
	cut map[string]bool
}

var errFiltered = errors.New("network cut (test)")

func (f *netFilter) blocked(addr string) bool {
	if f == nil {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cut[addr]
}

func (f *netFilter) set(addrs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = make(map[string]bool, len(addrs))
	for _, a := range addrs {
		f.cut[a] = true
	}
}
