package dnsserver_test

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
)

// gather scrapes s's collector into "name{label=value,...}" -> value
// (labels sorted; unlabelled metrics by bare name; histograms by count).
func gather(t *testing.T, s *dnsserver.Server) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := mf.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func queriesKey(zone, qtype, rcode, proto, service, site string) string {
	return "meridian_dns_queries_total{proto=" + proto + ",qtype=" + qtype + ",rcode=" + rcode + ",service=" + service + ",site=" + site + ",zone=" + zone + "}"
}

func TestMetrics(t *testing.T) {
	s, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	for range 3 {
		exchange(t, "udp", addr, query("app.gslb.example.", dns.TypeA))
	}
	exchange(t, "tcp", addr, query("app.gslb.example.", dns.TypeAAAA, edns(1232, false, subnet("81.2.69.0/24"))))
	exchange(t, "udp", addr, query("app.gslb.example.", dns.TypeTXT))
	exchange(t, "udp", addr, query("mail.gslb.example.", dns.TypeA))
	exchange(t, "udp", addr, query("mail.gslb.example.", dns.TypeMX))
	exchange(t, "udp", addr, query("nope.gslb.example.", dns.TypeA))
	exchange(t, "udp", addr, query("example.com.", dns.TypeA))
	exchange(t, "udp", addr, query("big.gslb.example.", dns.TypeTXT))
	exchange(t, "udp", addr, query("x.gslb.example.", 65280))
	got := gather(t, s)
	for key, want := range map[string]float64{
		queriesKey("gslb.example.", "A", "NOERROR", "udp", "app.gslb.example.", "us-east"):    3,
		queriesKey("gslb.example.", "AAAA", "NOERROR", "tcp", "app.gslb.example.", "eu-west"): 1,
		queriesKey("gslb.example.", "TXT", "NOERROR", "udp", "app.gslb.example.", ""):         1,
		queriesKey("gslb.example.", "A", "NOERROR", "udp", "", ""):                            1,
		queriesKey("gslb.example.", "MX", "NOERROR", "udp", "", ""):                           1,
		queriesKey("gslb.example.", "A", "NXDOMAIN", "udp", "", ""):                           1,
		queriesKey("", "A", "REFUSED", "udp", "", ""):                                         1,
		queriesKey("gslb.example.", "other", "NXDOMAIN", "udp", "", ""):                       1,
		"meridian_dns_responses_truncated_total":                                              1,
		"meridian_dns_panics_total":                                                           0,
		"meridian_dns_tcp_connections":                                                        0,
		"meridian_dns_request_duration_seconds{proto=udp}":                                    10,
		"meridian_dns_request_duration_seconds{proto=tcp}":                                    1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if t.Failed() {
		t.Logf("have: %v", got)
	}
	// The status page's answer counts: the A and AAAA answers by site.
	if by := s.AnswersBySite(); by["us-east"] != 3 || by["eu-west"] != 1 || len(by) != 2 {
		t.Errorf("AnswersBySite = %v, want us-east 3, eu-west 1", by)
	}
}

// Past Config.ServiceMetrics services, queries are counted by zone and
// site only: one set of counters per zone, service label "", so /metrics
// does not grow with the services.
func TestMetricsPastTheServiceLimit(t *testing.T) {
	st := dnstest.Demo()
	s, addr := dnstest.StartServer(t, dnstest.Store(t, st), func(c *dnsserver.Config) { c.ServiceMetrics = len(st.Services) - 1 })
	for range 3 {
		exchange(t, "udp", addr, query("app.gslb.example.", dns.TypeA))
	}
	exchange(t, "udp", addr, query("www.gslb.example.", dns.TypeA))
	got := gather(t, s)
	if n := got[queriesKey("gslb.example.", "A", "NOERROR", "udp", "", "us-east")]; n != 4 {
		t.Errorf("zone-wide A answers from us-east: %v, want 4\nhave: %v", n, got)
	}
	for key := range got {
		if strings.Contains(key, "service=app.") || strings.Contains(key, "service=www.") {
			t.Errorf("a series by service past the limit: %s", key)
		}
	}
}

// A panic while answering becomes SERVFAIL for that query only, is
// counted, and the server keeps serving.
func TestPanicIsServfail(t *testing.T) {
	s, addr := dnstest.StartServer(t, dnstest.Store(t, dnstest.Demo()))
	dnsserver.SetTestHook(s, func(req []byte) {
		if bytes.Contains(req, []byte("\x05panic")) {
			panic("injected")
		}
	})
	for _, netw := range transports {
		q := query("panic.gslb.example.", dns.TypeA)
		r := exchange(t, netw, addr, q)
		if r.Rcode != dns.RcodeServerFailure || r.Id != q.Id || len(r.Question) != 1 {
			t.Errorf("%s: %v", netw, r)
		}
		if r := exchange(t, netw, addr, query("app.gslb.example.", dns.TypeA)); len(r.Answer) != 1 {
			t.Errorf("%s: not serving after a panic", netw)
		}
	}
	if got := gather(t, s)["meridian_dns_panics_total"]; got != 2 {
		t.Errorf("panics_total %v, want 2", got)
	}
}
