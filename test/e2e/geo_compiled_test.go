package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestCompiledGeoDecisions: once the demo's geo decisions are compiled
// (issue 11; startDemo waits for that), the ECS scope in real answers is the compiled network that
// explain reports, never longer than the database's network, and a health
// failure moves clients to the next nearest site without compiling
// anything again.
func TestCompiledGeoDecisions(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	d := startDemo(t)
	m := d.meridian
	compiles := metric(t, m, "meridian_geo_compile_seconds_count")

	for _, tc := range []struct {
		subnet string
		qtype  uint16
		want   string
		dbBits int // the database network (or rule) that holds the subnet
	}{
		{"81.2.69.0/24", dns.TypeA, appEU, 24},        // London
		{"202.12.27.0/24", dns.TypeA, appAP, 24},      // Tokyo
		{"8.8.8.0/24", dns.TypeA, appUS, 24},          // Mountain View
		{"10.20.30.0/24", dns.TypeA, appEU, 8},        // the 10.0.0.0/8 rule: Dublin
		{"2001:67c:2e8:1::/64", dns.TypeA, appEU, 48}, // Amsterdam
	} {
		r := exchange(t, m.DNS[0], dnsQuery{name: "app.gslb.example", qtype: tc.qtype, ecs: tc.subnet})
		e := ecsOf(r)
		if got := addrs(r); e == nil || len(got) != 1 || got[0] != tc.want {
			t.Errorf("app from %s: want %s with an ECS option, got %s", tc.subnet, tc.want, describe(r))
			continue
		}
		scope := int(e.SourceScope)
		if scope == 0 || scope > tc.dbBits {
			t.Errorf("app from %s: ECS scope /%d, want 1..%d (no longer than the network that placed it)", tc.subnet, scope, tc.dbBits)
		}
		code, body := proctest.HTTP(t, "GET", fmt.Sprintf("%s/api/v1/explain?name=app.gslb.example&type=%s&client=%s",
			m.HTTP, dns.TypeToString[tc.qtype], tc.subnet))
		var ex struct {
			Trace struct {
				Compiled *struct {
					Network string   `json:"network"`
					Order   []string `json:"order"`
				} `json:"compiled"`
			} `json:"trace"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &ex) != nil || ex.Trace.Compiled == nil {
			t.Errorf("explain for %s: want 200 with trace.compiled, got %d:\n%s", tc.subnet, code, body)
			continue
		}
		n, err := netip.ParsePrefix(ex.Trace.Compiled.Network)
		if err != nil || n.Bits() != scope || !n.Contains(netip.MustParsePrefix(tc.subnet).Addr()) {
			t.Errorf("explain for %s: compiled network %q, want the /%d around it that DNS answered", tc.subnet, ex.Trace.Compiled.Network, scope)
		}
		t.Logf("%s -> %s scope /%d, order %v", tc.subnet, tc.want, scope, ex.Trace.Compiled.Order)
	}

	// eu-west fails: London goes to the next nearest, us-east, from the
	// same compiled tree.
	backend := "http://127.10.2.1:" + strconv.Itoa(d.backendPort)
	if code, body := proctest.HTTP(t, "POST", backend+"/fail"); code != 200 {
		t.Fatalf("POST %s/fail: %d %s", backend, code, body)
	}
	defer proctest.HTTP(t, "POST", backend+"/recover")
	var last *dns.Msg
	for deadline := time.Now().Add(hangGuard); ; {
		last = exchange(t, m.DNS[0], dnsQuery{name: "app.gslb.example", qtype: dns.TypeA, ecs: "81.2.69.0/24"})
		if slices.Equal(addrs(last), []string{appUS}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("eu-west failed, but London still gets %s", describe(last))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := metric(t, m, "meridian_geo_compile_seconds_count"); got != compiles {
		t.Errorf("a health failure compiled again: meridian_geo_compile_seconds_count %v -> %v", compiles, got)
	}
}
