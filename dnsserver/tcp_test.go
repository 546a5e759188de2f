package dnsserver_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// RFC 7766 behaviour of the TCP listener.

func frame(t *testing.T, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func readFrame(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read message: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTCPManyQueriesPerConnection(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	c, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		q := query("app.gslb.example.", dns.TypeA)
		q.Id = uint16(100 + i)
		if err := c.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		r, err := c.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if r.Id != q.Id || len(r.Answer) != 1 {
			t.Fatalf("query %d: %v", i, r)
		}
	}
}

func TestTCPPipelining(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names := []string{"app.gslb.example.", "mail.gslb.example.", "nope.gslb.example.", "big.gslb.example.", "multi.gslb.example."}
	var all []byte
	want := map[uint16]string{}
	for i, n := range names {
		q := query(n, dns.TypeA)
		if n == "big.gslb.example." {
			q = query(n, dns.TypeTXT)
		}
		q.Id = uint16(1000 + i)
		want[q.Id] = n
		all = append(all, frame(t, q)...)
	}
	if _, err := c.Write(all); err != nil { // every query in one segment
		t.Fatal(err)
	}
	for range names {
		r := readFrame(t, c)
		n, ok := want[r.Id]
		if !ok || r.Question[0].Name != n {
			t.Fatalf("unexpected response %d %v", r.Id, r.Question)
		}
		delete(want, r.Id)
	}
}

func TestTCPPartialFrames(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetNoDelay(true)
	q := query("app.gslb.example.", dns.TypeA)
	q.Id = 4242
	f := frame(t, q)
	for _, piece := range [][]byte{f[:1], f[1:2], f[2:7], f[7:]} {
		if _, err := c.Write(piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := readFrame(t, c); r.Id != 4242 || len(r.Answer) != 1 {
		t.Fatalf("got %v", r)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) { c.TCPIdleTimeout = 200 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(frame(t, query("app.gslb.example.", dns.TypeA)))
	readFrame(t, c)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after idle: %v, want EOF", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %v, want ~200ms", d)
	}
	// A partial frame does not keep the connection open either.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte{0, 40, 1, 2})
	c2.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after partial frame: %v, want EOF", err)
	}
}

// The caps: a client past its share is closed at once; at the total cap
// a new client gets the slot of the connection idle the longest (RFC 7766
// section 6.2.2), so connections held open cannot lock others out.
func TestTCPConnectionCaps(t *testing.T) {
	s, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) {
		c.MaxTCPConns, c.MaxTCPConnsPerSource = 3, 2
	})
	dialFrom := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	served := func(c net.Conn) bool {
		t.Helper()
		c.Write(frame(t, query("app.gslb.example.", dns.TypeA)))
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var hdr [2]byte
		_, err := io.ReadFull(c, hdr[:])
		if err == nil {
			b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
			_, err = io.ReadFull(c, b)
		}
		return err == nil
	}
	a1, a2 := dialFrom("127.0.0.1"), dialFrom("127.0.0.1")
	if !served(a1) || !served(a2) {
		t.Fatal("a client's first two connections not served")
	}
	if served(dialFrom("127.0.0.1")) {
		t.Error("a third connection of one client served beyond its share of 2")
	}
	b := dialFrom("127.0.0.2")
	if !served(b) {
		t.Fatal("another client not served below the cap")
	}
	time.Sleep(10 * time.Millisecond) // a1 is now the longest idle
	if !served(dialFrom("127.0.0.3")) {
		t.Fatal("a new client at the cap not served: idle connections hold every slot")
	}
	if served(a1) {
		t.Error("the longest idle connection was not the one closed")
	}
	if !served(b) {
		t.Error("a connection idle for less time was closed")
	}
	got := gather(t, s)
	for key, want := range map[string]float64{
		"meridian_dns_tcp_connections_closed_total{reason=per_source}":   1,
		"meridian_dns_tcp_connections_closed_total{reason=evicted_idle}": 1,
		"meridian_dns_tcp_connections_closed_total{reason=full}":         0,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
}

// Shutdown ends idle TCP connections and returns.
func TestShutdown(t *testing.T) {
	store := dnstest.Store(t, dnstest.Demo())
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet()}, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	udp, _ := s.Addrs()
	c, err := net.Dial("tcp", udp[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(frame(t, query("app.gslb.example.", dns.TypeA)))
	readFrame(t, c)
	start := time.Now()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("shutdown took %v", time.Since(start))
	}
	if s.Ready() {
		t.Error("ready after shutdown")
	}
	if _, _, err := (&dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}).Exchange(query("app.gslb.example.", dns.TypeA), udp[0].String()); err == nil {
		t.Error("answered after shutdown")
	}
}
