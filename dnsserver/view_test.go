package dnsserver_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/test/proctest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Published snapshots take effect; one that does not compile is logged
// and the previous view keeps serving.
func TestSnapshotUpdates(t *testing.T) {
	store := dnstest.Store(t, dnstest.Demo())
	var logs syncBuf
	s, addr := dnstest.StartServer(t, store, func(c *dnsserver.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })

	st := dnstest.Demo()
	st.Generation = 2
	st.Zones[0].Records = append(st.Zones[0].Records, "new 300 IN A 192.0.2.99")
	store.Publish(dnstest.Snapshot(t, st))
	if r := exchange(t, "udp", addr, query("new.gslb.example.", dns.TypeA)); len(r.Answer) != 1 {
		t.Fatalf("new record not served: %v", r)
	}

	bad := dnstest.Demo()
	bad.Generation = 3
	bad.Zones[0].Records = append(bad.Zones[0].Records, "broken 300 IN A nonsense")
	store.Publish(dnstest.Snapshot(t, bad))
	if r := exchange(t, "udp", addr, query("new.gslb.example.", dns.TypeA)); len(r.Answer) != 1 {
		t.Fatalf("previous view not kept: %v", r)
	}
	if !strings.Contains(logs.String(), "records[") || !strings.Contains(logs.String(), "generation=3") {
		t.Errorf("compile error not logged: %s", logs.String())
	}
	if !s.Ready() {
		t.Error("not ready")
	}

	// A health-only change (same shape) keeps the counters going.
	before := gather(t, s)[queriesKey("gslb.example.", "A", "NOERROR", "udp", "", "")]
	st.Generation = 4
	store.Publish(dnstest.Snapshot(t, st))
	exchange(t, "udp", addr, query("new.gslb.example.", dns.TypeA))
	if after := gather(t, s)[queriesKey("gslb.example.", "A", "NOERROR", "udp", "", "")]; after != before+1 {
		t.Errorf("counter %v -> %v across a republish", before, after)
	}

	// A service removed: NXDOMAIN, and its counters are dropped.
	exchange(t, "udp", addr, query("rr.gslb.example.", dns.TypeA))
	gone := dnstest.Demo()
	gone.Generation = 5
	for i, svc := range gone.Services {
		if svc.Name == "rr.gslb.example." {
			gone.Services = append(gone.Services[:i], gone.Services[i+1:]...)
			break
		}
	}
	store.Publish(dnstest.Snapshot(t, gone))
	if r := exchange(t, "udp", addr, query("rr.gslb.example.", dns.TypeA)); r.Rcode != dns.RcodeNameError {
		t.Errorf("removed service: %v", r)
	}
	for k := range gather(t, s) {
		if strings.Contains(k, "service=rr.gslb.example.") {
			t.Errorf("counter of a removed service kept: %s", k)
		}
	}
}

// Health changes reach the answers (down member -> next nearest).
func TestHealthChange(t *testing.T) {
	st := dnstest.Demo()
	store := dnstest.Store(t, st)
	_, addr := dnstest.StartServer(t, store)
	q := query("app.gslb.example.", dns.TypeA, edns(1232, false, subnet("81.2.69.0/24")))
	if r := exchange(t, "udp", addr, q); r.Answer[0].(*dns.A).A.String() != "198.51.100.10" {
		t.Fatalf("before: %v", r.Answer)
	}
	snap, err := gslb.NewSnapshot(st, dnstest.Snapshot(t, st).Locator, downAt("eu-west"))
	if err != nil {
		t.Fatal(err)
	}
	store.Publish(snap)
	if r := exchange(t, "udp", addr, q); r.Answer[0].(*dns.A).A.String() != "192.0.2.10" {
		t.Fatalf("after eu-west down: %v", r.Answer)
	}
}

type downAt string

func (d downAt) MemberUp(_ string, m *gslb.Member) (bool, bool) { return m.Site != string(d), true }

func TestIPv6Listener(t *testing.T) {
	// A kernel or container without IPv6 has no ::1 to listen on: the
	// test cannot run there, which proctest's rule makes a failure
	// under CI (a skip only locally).
	if c, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		proctest.Missing(t, fmt.Sprintf("IPv6 loopback ::1 is not available (%v): enable IPv6 on lo (sysctl net.ipv6.conf.lo.disable_ipv6=0)", err))
	} else {
		c.Close()
	}
	_, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()), func(c *dnsserver.Config) { c.Listen = []string{"[::1]:0"} })
	for _, netw := range transports {
		// From ::1, which the test rules place at us-east.
		r := exchange(t, netw, addr, query("app.gslb.example.", dns.TypeAAAA, edns(1232, false)))
		if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "2001:db8:1::10" {
			t.Errorf("%s: %v", netw, r.Answer)
		}
	}
}
