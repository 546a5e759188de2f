package control

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dnsserver/delegation"
)

// fakeParent is a parent zone in memory: Apply applies the diff as a
// server would.
type fakeParent struct {
	d       delegation.Delegation
	applied int
	fail    error
}

func (f *fakeParent) Read(context.Context) (delegation.Delegation, error) { return f.d, nil }

func (f *fakeParent) Apply(_ context.Context, d delegation.Diff, _ uint32) error {
	if f.fail != nil {
		return f.fail
	}
	f.applied++
	var out delegation.Delegation
	for _, ns := range f.d.NameServers {
		if slices.Contains(d.RemoveNS, ns.Name) {
			continue
		}
		var addrs = ns.Addrs[:0:0]
		for _, a := range ns.Addrs {
			if !slices.Contains(d.RemoveGlue, delegation.Glue{Name: ns.Name, Addr: a}) {
				addrs = append(addrs, a)
			}
		}
		ns.Addrs = addrs
		out.NameServers = append(out.NameServers, ns)
	}
	for _, n := range d.AddNS {
		out.NameServers = append(out.NameServers, delegation.NameServer{Name: n})
	}
	for _, g := range d.AddGlue {
		for i := range out.NameServers {
			if out.NameServers[i].Name == g.Name {
				out.NameServers[i].Addrs = append(out.NameServers[i].Addrs, g.Addr)
			}
		}
	}
	f.d = out
	return nil
}

func (f *fakeParent) names() string { return strings.Join(f.d.Names(), " ") }

// delegationConfig is good.yaml with three name servers of gslb.example.:
// ns1 always delegated, ns2 at eu-west, ns3 at ap-south.
func delegationConfig(t *testing.T) *config.Loaded {
	t.Helper()
	path := fixtureDir(t)
	b, err := os.ReadFile(path)
	must(t, err)
	old := "      - name: ns1.gslb.example.\n        addresses: [127.0.0.1]\n"
	if !strings.Contains(string(b), old) {
		t.Fatal("fixture changed")
	}
	text := strings.Replace(string(b), old, old+`      - {name: ns2.gslb.example., addresses: [127.0.0.2], site: eu-west}
      - {name: ns3.gslb.example., addresses: [127.0.0.3], site: ap-south}
    delegation: {server: 127.0.0.1:5353, grace: 10s, interval: 1m, tsig: {name: k, secret_file: k.key}}
`, 1)
	writeFile(t, path, text)
	writeFile(t, filepath.Join(filepath.Dir(path), "k.key"), "kJ1p4ZZlS2s9xQy3pA9CkCZG5nEJq1H6vF8c3oSxVgI=\n")
	l, err := config.Load(config.Options{File: path})
	must(t, err)
	return l
}

func TestDelegatorFollowsTheSites(t *testing.T) {
	l := delegationConfig(t)
	live := map[string]bool{"us-east": true, "eu-west": true}
	leads := true
	parent := &fakeParent{d: delegation.Delegation{NameServers: []delegation.NameServer{
		{Name: "ns1.gslb.example."}, {Name: "ns3.gslb.example."},
	}}}
	d := newDelegatorWith(slog.New(slog.DiscardHandler), func() *config.Loaded { return l },
		func(*config.Loaded) map[string]bool { return maps.Clone(live) }, func() bool { return leads })
	d.parent = func(zd config.ZoneDelegation) delegation.Parent {
		if zd.Zone != "gslb.example." || zd.Parent != "example." || zd.Key.Name != "k" {
			t.Errorf("parent of %+v", zd)
		}
		return parent
	}
	now := time.Unix(1_000_000, 0)
	d.now = func() time.Time { return now }
	step := func(after time.Duration) {
		now = now.Add(after)
		d.step(context.Background())
	}
	inSync := func() float64 { return testutil.ToFloat64(d.inSync.WithLabelValues("gslb.example.")) }

	// eu-west is live: ns2 joins with its glue. ap-south was never seen
	// live, but the delegator just started: ns3 is held, not removed;
	// ns1 has no site and gets its glue.
	step(0)
	if got := parent.names(); got != "ns1.gslb.example. ns2.gslb.example. ns3.gslb.example." {
		t.Fatalf("after the first pass the parent has %s", got)
	}
	if diff := delegation.Compute("gslb.example.", delegation.Delegation{NameServers: []delegation.NameServer{
		{Name: "ns1.gslb.example.", Addrs: parent.d.NameServers[0].Addrs}}}, parent.d); len(diff.AddGlue) != 0 ||
		parent.d.NameServers[0].Addrs[0].String() != "127.0.0.1" {
		t.Errorf("ns1's glue: %+v", parent.d.NameServers)
	}
	if inSync() != 1 || testutil.ToFloat64(d.updates.WithLabelValues("gslb.example.", "success")) != 1 {
		t.Errorf("in_sync %v, updates %v", inSync(), testutil.ToFloat64(d.updates.WithLabelValues("gslb.example.", "success")))
	}

	// Nothing changed: no pass before the interval.
	step(5 * time.Second)
	if parent.applied != 1 {
		t.Errorf("%d updates, want 1", parent.applied)
	}
	// ap-south's grace ends: ns3 goes.
	step(6 * time.Second)
	if got := parent.names(); got != "ns1.gslb.example. ns2.gslb.example." {
		t.Fatalf("after ap-south's grace the parent has %s", got)
	}

	// eu-west leaves (last seen live now): ns2 stays for the grace, then
	// goes.
	delete(live, "eu-west")
	step(time.Second)
	step(8 * time.Second)
	if got := parent.names(); got != "ns1.gslb.example. ns2.gslb.example." {
		t.Fatalf("within eu-west's grace the parent has %s", got)
	}
	step(2 * time.Second)
	if got := parent.names(); got != "ns1.gslb.example." {
		t.Fatalf("after eu-west's grace the parent has %s", got)
	}

	// A process that does not publish the state changes nothing.
	leads = false
	live["ap-south"] = true
	step(time.Minute)
	if got := parent.names(); got != "ns1.gslb.example." {
		t.Fatalf("a standby changed the parent: %s", got)
	}
	// Leading again: at once.
	leads = true
	step(time.Second)
	if got := parent.names(); got != "ns1.gslb.example. ns3.gslb.example." {
		t.Fatalf("ap-south's name server was not added: %s", got)
	}

	// Someone else breaks the glue: corrected at the next interval.
	parent.d.NameServers[0].Addrs = nil
	step(time.Minute)
	if len(parent.d.NameServers[0].Addrs) != 1 {
		t.Errorf("ns1's glue not restored: %+v", parent.d.NameServers)
	}

	// A failed update counts and says out of sync.
	parent.fail = errors.New("NOTAUTH BADSIG")
	parent.d.NameServers = parent.d.NameServers[:1]
	step(time.Minute)
	if inSync() != 0 || testutil.ToFloat64(d.updates.WithLabelValues("gslb.example.", "failure")) != 1 {
		t.Errorf("after a failure: in_sync %v, failures %v", inSync(), testutil.ToFloat64(d.updates.WithLabelValues("gslb.example.", "failure")))
	}
}

func TestDelegatorKeepsTheLastNameServer(t *testing.T) {
	l := delegationConfig(t)
	zd := l.Delegations()[0]
	zd.NameServers = zd.NameServers[1:] // only site-bound ones
	parent := &fakeParent{d: delegation.Delegation{NameServers: []delegation.NameServer{
		{Name: "ns2.gslb.example.", Addrs: zd.NameServers[0].Addrs}, {Name: "ns3.gslb.example.", Addrs: zd.NameServers[1].Addrs},
	}}}
	d := newDelegatorWith(slog.New(slog.DiscardHandler), func() *config.Loaded { return l }, nil, nil)
	d.parent = func(config.ZoneDelegation) delegation.Parent { return parent }
	d.pass(context.Background(), zd, map[string]bool{}, time.Now()) // no site live, none in grace
	if got := parent.names(); got != "ns2.gslb.example. ns3.gslb.example." || parent.applied != 0 {
		t.Errorf("the parent has %s after %d updates, want both name servers kept", got, parent.applied)
	}
	if v := testutil.ToFloat64(d.inSync.WithLabelValues("gslb.example.")); v != 0 {
		t.Errorf("in_sync %v, want 0", v)
	}
	// One site back: the other's name server may go.
	d.pass(context.Background(), zd, map[string]bool{"eu-west": true}, time.Now())
	if got := parent.names(); got != "ns2.gslb.example." {
		t.Errorf("the parent has %s, want ns2 alone", got)
	}
}
