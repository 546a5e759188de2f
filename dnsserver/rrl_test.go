package dnsserver_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// rrlFlood sends n queries for name over UDP from src and counts the
// full answers, the truncated ones and the silences.
func rrlFlood(t *testing.T, addr, src, name string, n int) (full, tc, none int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := query(name, dns.TypeA)
	buf := make([]byte, 4096)
	for i := range n {
		q.Id = uint16(i)
		wire, _ := q.Pack()
		c.Write(wire)
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		k, err := c.Read(buf)
		if err != nil {
			none++
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Truncated && len(r.Answer) == 0 && len(r.Question) == 1:
			tc++
		case len(r.Answer) > 0:
			full++
		default:
			t.Fatalf("neither an answer nor a slip: %v", r)
		}
	}
	return full, tc, none
}

// RRL: a flood from one network is cut to the rate, every second limited
// response slips out truncated; another network, TCP and exempt clients
// are served in full.
func TestRRL(t *testing.T) {
	s, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) {
		c.RRL = dnsserver.RRLConfig{ResponsesPerSecond: 5, Window: 1, Slip: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("127.9.0.0/16")}}
	})
	start := time.Now()
	full, tc, none := rrlFlood(t, addr, "127.0.0.1", "app.gslb.example.", 60)
	secs := int(time.Since(start).Seconds()) + 1
	t.Logf("60 queries in %v: %d answered, %d truncated, %d dropped", time.Since(start).Round(time.Millisecond), full, tc, none)
	if full > 5*(secs+1) || full < 5 {
		t.Errorf("%d full answers over %d s at 5 per second", full, secs)
	}
	if limited := tc + none; limited < 60-5*(secs+1) || tc < limited/2-1 || tc > limited/2+1 {
		t.Errorf("%d limited, %d of them truncated: want about half (slip 2)", limited, tc)
	}
	// Another name is another bucket; another network too.
	if full, _, _ := rrlFlood(t, addr, "127.0.0.1", "www.gslb.example.", 3); full != 3 {
		t.Errorf("another name from the flooding network: %d of 3 answered", full)
	}
	if full, _, _ := rrlFlood(t, addr, "127.1.0.1", "app.gslb.example.", 3); full != 3 {
		t.Errorf("another network: %d of 3 answered", full)
	}
	if full, _, _ := rrlFlood(t, addr, "127.9.0.1", "app.gslb.example.", 20); full != 20 {
		t.Errorf("an exempt network: %d of 20 answered", full)
	}
	if r := exchange(t, "tcp", addr, query("app.gslb.example.", dns.TypeA)); len(r.Answer) == 0 {
		t.Error("TCP limited")
	}
	got := gather(t, s)
	if got["meridian_dns_rrl_responses_total{action=dropped}"] == 0 || got["meridian_dns_rrl_responses_total{action=slipped}"] != float64(tc) {
		t.Errorf("rrl counters: dropped %v, slipped %v (%d truncated seen)", got["meridian_dns_rrl_responses_total{action=dropped}"], got["meridian_dns_rrl_responses_total{action=slipped}"], tc)
	}
}

// With RRL on, a query still costs no allocation, limited or not.
func TestRRLDoesNotAllocate(t *testing.T) {
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(),
		RRL: dnsserver.RRLConfig{ResponsesPerSecond: 1000}}, dnstest.Store(t, dnstest.Demo()))
	if err != nil {
		t.Fatal(err)
	}
	h := dnsserver.NewTestHandler(s)
	q, err := query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))).Pack()
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddr("192.0.2.1")
	if a := testing.AllocsPerRun(20000, func() { h.Serve(q, src, false) }); a != 0 {
		t.Errorf("%v allocations per query with RRL (most of them limited)", a)
	}
}

// The handler with RRL on and every response within the rate: the cost
// of the bucket (make bench).
func BenchmarkHandlerGeoECSWithRRL(b *testing.B) {
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(),
		RRL: dnsserver.RRLConfig{ResponsesPerSecond: 1 << 20}}, dnstest.Store(b, dnstest.Demo()))
	if err != nil {
		b.Fatal(err)
	}
	h := dnsserver.NewTestHandler(s)
	q, err := query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))).Pack()
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		h.Serve(q, src, false)
	}
}

// The amplification one source gets: response bytes over query bytes
// for a flood of one question from one network, without RRL and with
// RRL at 100 responses per second, slip 2 (make bench; the numbers are
// in docs/performance.md).
func BenchmarkRRLAmplification(b *testing.B) {
	for _, tc := range []struct {
		name string
		q    *dns.Msg
	}{
		{"geo-A-ECS", query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24")))},
		{"mail-MX-EDNS", query("mail.gslb.example.", dns.TypeMX, edns(1232, false))},
	} {
		for _, rps := range []int{0, 100} {
			b.Run(fmt.Sprintf("%s/rrl=%d", tc.name, rps), func(b *testing.B) {
				s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(),
					RRL: dnsserver.RRLConfig{ResponsesPerSecond: rps, Slip: 2}}, dnstest.Store(b, dnstest.Demo()))
				if err != nil {
					b.Fatal(err)
				}
				h := dnsserver.NewTestHandler(s)
				req, err := tc.q.Pack()
				if err != nil {
					b.Fatal(err)
				}
				src := netip.MustParseAddr("198.51.100.7")
				var in, out int
				for b.Loop() {
					in += len(req)
					out += len(h.Serve(req, src, false))
				}
				b.ReportMetric(float64(out)/float64(in), "amplification")
			})
		}
	}
}

// BenchmarkRRLOtherClients: what a flood from one network costs everyone
// else. A flooder sends one question from 127.0.0.1 at floodRate without
// reading the replies, as a spoofed flood does; each iteration is one
// query from one of 64 other networks (127.1.k.1), a millisecond apart,
// that waits for its answer.
// Reported: that client's p50 and p99 in microseconds and the share it
// got answered, with no flood, a flood without RRL, and a flood with RRL
// (100/s, slip 2). Numbers in docs/performance.md.
func BenchmarkRRLOtherClients(b *testing.B) {
	const floodRate = 20000 // queries per second
	for _, tc := range []struct {
		name  string
		flood bool
		rps   int
	}{{"quiet", false, 100}, {"flood/rrl=0", true, 0}, {"flood/rrl=100", true, 100}} {
		b.Run(tc.name, func(b *testing.B) {
			_, addr := dnstest.StartServer(b, dnstest.Store(b, dnstest.Demo()), func(c *dnsserver.Config) {
				c.RRL = dnsserver.RRLConfig{ResponsesPerSecond: tc.rps, Slip: 2}
			})
			stop := make(chan struct{})
			done := make(chan struct{})
			if tc.flood {
				go flood(b, addr, floodRate, stop, done)
			} else {
				close(done)
			}
			// The other clients: 64 networks, a query a millisecond in all,
			// each network far below the rate.
			var conns []net.Conn
			for k := range 64 {
				d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 1, byte(k), 1)}}
				c, err := d.Dial("udp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
			}
			q := query("www.gslb.example.", dns.TypeA, edns(1232, false))
			buf := make([]byte, 4096)
			var lat []time.Duration
			answered := 0
			time.Sleep(200 * time.Millisecond) // the flood under way
			for b.Loop() {
				q.Id++
				c := conns[int(q.Id)%len(conns)]
				wire, _ := q.Pack()
				time.Sleep(time.Millisecond)
				start := time.Now()
				if _, err := c.Write(wire); err != nil {
					b.Fatal(err)
				}
				_ = c.SetReadDeadline(start.Add(time.Second))
				for {
					n, err := c.Read(buf)
					if err != nil {
						break // lost
					}
					if n >= 2 && buf[0] == byte(q.Id>>8) && buf[1] == byte(q.Id) {
						lat = append(lat, time.Since(start))
						answered++
						break
					}
				}
			}
			close(stop)
			<-done
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
			}
			b.ReportMetric(float64(answered)/float64(b.N), "answered")
		})
	}
}

// flood sends one question to addr from 127.0.0.1 at rate per second,
// never reading a reply, until stop closes.
func flood(b *testing.B, addr string, rate int, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	c, err := net.Dial("udp", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	wire, _ := query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24"))).Pack()
	const tick = time.Millisecond
	per := rate / int(time.Second/tick)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			for range per {
				_, _ = c.Write(wire) // the replies pile up unread, as at a spoofed victim
			}
		}
	}
}
