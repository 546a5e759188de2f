package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// The cost of gathering load signals for 1,000 members (issue #12),
// each member one probed target:
//
//	go test -run '^$' -bench 'LoadRead|LoadGather|PromEvaluate' -benchmem ./health
//
// BenchmarkLoadRead: reading one probe's load (header, JSON field, body).
// BenchmarkLoadGather1000: what one refresh of the served snapshot reads,
// View.MemberLoad for every member (the refresh runs twice a second).
// BenchmarkPromEvaluate1000: one evaluation of a query whose 1,000 samples
// name 1,000 members, over HTTP on loopback, stored in Signals.

func BenchmarkLoadRead(b *testing.B) {
	h := http.Header{}
	h.Set("X-Load", "0.42")
	body := []byte(`{"status":"ok","stats":{"cpu":0.42,"conns":1234}}`)
	for _, bc := range []struct {
		spec string
		body []byte
	}{
		{"header:X-Load", nil},
		{"json:stats.cpu", body},
		{"body", []byte("0.42\n")},
	} {
		lf, err := gslb.ParseLoadFrom(bc.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.SplitN(bc.spec, ":", 2)[0], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := readLoad(lf, h, bc.body, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loadState is 10 services of 100 members, each with an http check that
// reads the load: 1,000 targets.
func loadState(b *testing.B) *gslb.State {
	st := &gslb.State{
		Zones: []gslb.Zone{{Name: "l.example.", NameServers: []gslb.NameServer{{Name: "ns1.l.example.", Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}}}},
		Sites: []gslb.Site{{Name: "a"}, {Name: "b"}},
	}
	for k := range 10 {
		svc := gslb.Service{Name: fmt.Sprintf("s%d.l.example.", k),
			Policy:      gslb.Policy{Load: gslb.LoadPolicy{Low: 0.5, High: 0.9}},
			HealthCheck: &gslb.HealthCheck{Kind: "http", Port: 80, LoadFrom: "header:X-Load"}}
		for i := range 100 {
			svc.Members = append(svc.Members, gslb.Member{Site: st.Sites[i%2].Name, Weight: 1,
				Addresses: []netip.Addr{netip.AddrFrom4([4]byte{10, byte(k), byte(i), 1})}})
		}
		st.Services = append(st.Services, svc)
	}
	st.ApplyDefaults()
	if err := st.Validate(); err != nil {
		b.Fatal(err)
	}
	return st
}

func BenchmarkLoadGather1000(b *testing.B) {
	st := loadState(b)
	plan, err := NewPlan(st, PlanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	sig := NewSignals()
	now := time.Now()
	for k := range plan.Targets() {
		sig.SetTarget(k, gslb.LoadSignal{Value: 0.3, At: now, Source: SignalProbe})
	}
	v := NewView(plan, nil).WithSignals(sig)
	members := 0
	b.ReportAllocs()
	for b.Loop() {
		members = 0
		for i := range st.Services {
			svc := &st.Services[i]
			for j := range svc.Members {
				if _, ok := v.MemberLoad(svc.Name, &svc.Members[j], time.Minute, now); !ok {
					b.Fatal("no reading")
				}
				members++
			}
		}
	}
	b.ReportMetric(float64(members), "members")
}

func BenchmarkPromEvaluate1000(b *testing.B) {
	st := loadState(b)
	for i := range st.Services {
		st.Services[i].Policy.Load.Prometheus = "load"
		st.Services[i].Policy.Load.MatchLabel = "instance"
		st.Services[i].Policy.Load.MatchOn = gslb.MatchAddress
	}
	// One answer serves every query: 1,000 samples, one per member
	// address, so each service's query matches its 100 and ignores 900.
	var sb strings.Builder
	sb.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
	for k := range 10 {
		for i := range 100 {
			if k+i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"metric":{"instance":"10.%d.%d.1:9100"},"value":[%d,"0.%d"]}`, k, i, time.Now().Unix(), i%10)
		}
	}
	sb.WriteString(`]}}`)
	answer := sb.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(answer))
	}))
	defer srv.Close()
	sig := NewSignals()
	p := NewPromSource(PromOptions{URL: srv.URL, Signals: sig})
	p.SetQueries(PromQueries(st))
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(context.Background())
	}
	if _, ok := sig.Member("s3.l.example.", st.Services[3].Members[7].ID()); !ok {
		b.Fatal("no reading stored")
	}
}
