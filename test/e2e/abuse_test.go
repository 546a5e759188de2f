package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TCP connections held open by a few clients, each sending a query now
// and then (the attack run of issue 13: 256 connections, one query every
// 8 s, locked every other client out of TCP), must not keep other clients
// out: the per-client cap turns most away, and at the total cap a new
// connection takes the slot of the one idle the longest.
func TestTCPHeldConnectionsDoNotLockOut(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dir := t.TempDir()
	cfg := healthConfig(t, dir, []hsvc{{name: "app", policy: "{strategy: roundrobin, ttl: 30}", members: []string{"{site: a, addresses: [192.0.2.1]}"}}},
		"dns: {max_tcp_connections: 64}\n")
	m := startHealthMeridian(t, cfg)

	q := new(dns.Msg)
	q.SetQuestion("app.health.test.", dns.TypeA)
	wire, err := q.Pack()
	must(t, err)
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(wire)))
	framed = append(framed, wire...)

	// Four attacking addresses, 40 connections each: more than the cap.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := 0
	for a := range 4 {
		src := &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.63.0.%d", a+1))}
		for range 40 {
			wg.Go(func() {
				d := net.Dialer{LocalAddr: src, Timeout: time.Second}
				c, err := d.Dial("tcp", m.DNS[0])
				if err != nil {
					return
				}
				defer c.Close()
				counted := false
				for {
					if _, err := c.Write(framed); err != nil {
						return
					}
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					var hdr [2]byte
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return // closed by a cap
					}
					if _, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint16(hdr[:]))); err != nil {
						return
					}
					if !counted {
						mu.Lock()
						held++
						mu.Unlock()
						counted = true
					}
					c.SetReadDeadline(time.Time{})
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Second):
					}
				}
			})
		}
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
	time.Sleep(time.Second) // the attackers hold what they can

	// 25 clients, one after the other, each on a new connection.
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.63.1.1")}}}
	failed := 0
	for i := range 25 {
		r, _, err := c.Exchange(q, m.DNS[0])
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			failed++
			t.Logf("client %d: %v %v", i, err, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	t.Logf("%d attacking connections were answered at least once", held)
	mu.Unlock()
	if failed > 0 {
		t.Errorf("%d of 25 TCP clients got no answer while others held connections open", failed)
	}
	for _, reason := range []string{"per_source", "evicted_idle"} {
		if v := metric(t, m, `meridian_dns_tcp_connections_closed_total{reason="`+reason+`"}`); v <= 0 {
			t.Errorf("connections closed for %s: %v, want some", reason, v)
		}
	}
}

// Garbage at the gossip port, from a host without the key, costs a few
// log lines, not one per packet (the attack run: 20,000 packets, 7,664
// ERROR lines in 0.2 s); the metric counts them all.
func TestGossipGarbageDoesNotFloodTheLog(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dir := t.TempDir()
	key := genKey(t, dir, "gossip.key")
	ip := "127.63.2.1"
	gossipAddr := hostPort(ip, freePortOn(t, ip))
	cfg := healthConfig(t, dir, []hsvc{{name: "app", policy: "{strategy: roundrobin, ttl: 30}", members: []string{"{site: a, addresses: [192.0.2.1]}"}}},
		fmt.Sprintf("gossip: {role: leader, site: a, listen: %s, key_file: %s, timing: local}\n", gossipAddr, key))
	m := startHealthMeridian(t, cfg)
	before := strings.Count(m.Out.String(), "\n")

	u, err := net.Dial("udp", gossipAddr)
	must(t, err)
	defer u.Close()
	junk := make([]byte, 200)
	for i := range 20_000 {
		binary.BigEndian.PutUint32(junk, uint32(i))
		_, _ = u.Write(junk)
		if i%500 == 0 {
			time.Sleep(time.Millisecond) // let the loopback queue drain
		}
	}
	for i := range 200 {
		c, err := net.DialTimeout("tcp", gossipAddr, time.Second)
		if err != nil {
			continue
		}
		binary.BigEndian.PutUint32(junk, uint32(i))
		_, _ = c.Write(junk)
		c.Close()
	}
	counted := func() float64 {
		sum := 0.0
		for _, kind := range []string{"key", "gossip", "transfer"} {
			sum += max(0, metric(t, m, `meridian_sites_peer_errors_total{kind="`+kind+`"}`))
		}
		return sum
	}
	for deadline := time.Now().Add(hangGuard); counted() < 1000; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("peer errors counted: %v, want at least 1,000 of the 20,200 bad messages", counted())
		}
	}
	time.Sleep(500 * time.Millisecond)
	lines := strings.Split(m.Out.String(), "\n")[before:]
	loud := 0
	for _, l := range lines {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			loud++
		}
	}
	if loud > 20 {
		t.Errorf("%d warning and error lines for garbage at the gossip port, want a few:\n%s", loud, strings.Join(lines[:min(len(lines), 30)], "\n"))
	}
	t.Logf("%v peer errors counted, %d warning/error lines logged", counted(), loud)
}
