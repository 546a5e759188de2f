package dnsserver

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Query metrics are kept in plain atomics indexed by small integers and
// resolved to counters when a view is compiled, so the query path never
// builds a label set or touches a map (design section 4). A custom
// prometheus.Collector reads them at scrape time and reports the non-zero
// ones.

const (
	protoUDP = 0
	protoTCP = 1
)

var protoNames = [2]string{"udp", "tcp"}

// qtype buckets: the types a GSLB zone is asked about, the rest "other".
var qtypeNames = [...]string{"", "A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "NAPTR", "DS", "DNSKEY", "SVCB", "HTTPS", "CAA", "ANY", "other"}

const nQtype = len(qtypeNames)

// qtypeNone is the bucket of messages without a usable question.
const qtypeNone = 0

func qtypeIndex(t uint16) int {
	switch t {
	case dns.TypeA:
		return 1
	case dns.TypeNS:
		return 2
	case dns.TypeCNAME:
		return 3
	case dns.TypeSOA:
		return 4
	case dns.TypePTR:
		return 5
	case dns.TypeMX:
		return 6
	case dns.TypeTXT:
		return 7
	case dns.TypeAAAA:
		return 8
	case dns.TypeSRV:
		return 9
	case dns.TypeNAPTR:
		return 10
	case dns.TypeDS:
		return 11
	case dns.TypeDNSKEY:
		return 12
	case dns.TypeSVCB:
		return 13
	case dns.TypeHTTPS:
		return 14
	case dns.TypeCAA:
		return 15
	case dns.TypeANY:
		return 16
	}
	return 17
}

var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other"}

const nRcode = len(rcodeNames)

func rcodeIndex(rc int) int {
	switch rc {
	case dns.RcodeSuccess:
		return 0
	case dns.RcodeFormatError:
		return 1
	case dns.RcodeServerFailure:
		return 2
	case dns.RcodeNameError:
		return 3
	case dns.RcodeNotImplemented:
		return 4
	case dns.RcodeRefused:
		return 5
	case dns.RcodeBadVers:
		return 6
	}
	return 7
}

// zoneCounters count queries of one zone ("" for refused and unparsable
// ones) that are not at a service name.
type zoneCounters struct {
	name string
	c    [nQtype][nRcode][2]atomic.Uint64
}

// svcCounters count queries at one service name. The dense part covers
// the hot case, A or AAAA answered NOERROR, per answered site; anything
// else lands in rare, allocated the first time it is needed.
type svcCounters struct {
	name, zone string
	sites      []string              // slot i+1 is sites[i]; slot 0 is site ""
	addr       [][2][2]atomic.Uint64 // [slot][A, AAAA][proto]
	rare       atomic.Pointer[[nQtype][nRcode][2]atomic.Uint64]
}

func (s *svcCounters) slot(site string) int {
	for i, n := range s.sites {
		if n == site {
			return i + 1
		}
	}
	return 0
}

func (s *svcCounters) inc(qtype uint16, rcode int, proto int, site string) {
	if rcode == dns.RcodeSuccess && (qtype == dns.TypeA || qtype == dns.TypeAAAA) {
		f := 0
		if qtype == dns.TypeAAAA {
			f = 1
		}
		s.addr[s.slot(site)][f][proto].Add(1)
		return
	}
	r := s.rare.Load()
	if r == nil {
		r = new([nQtype][nRcode][2]atomic.Uint64)
		if !s.rare.CompareAndSwap(nil, r) {
			r = s.rare.Load()
		}
	}
	r[qtypeIndex(qtype)][rcodeIndex(rcode)][proto].Add(1)
}

// Why the TCP caps closed a connection: indexes of metrics.tcpRefused.
const (
	tcpRefusedPerSource = iota
	tcpRefusedFull
	tcpEvictedIdle
)

// What RRL did with a limited response: indexes of metrics.rrl.
const (
	rrlDropped = iota
	rrlSlipped
)

var tcpRefusedReasons = [...]string{tcpRefusedPerSource: "per_source", tcpRefusedFull: "full", tcpEvictedIdle: "evicted_idle"}

// histogram is a fixed-bucket latency histogram in atomics.
type histogram struct {
	counts [len(durBuckets) + 1]atomic.Uint64
	sumNs  atomic.Uint64
}

var durBuckets = [...]float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1}

var durBucketsNs = func() (b [len(durBuckets)]uint64) {
	for i, s := range durBuckets {
		b[i] = uint64(s * 1e9)
	}
	return b
}()

func (h *histogram) observe(d time.Duration) {
	ns := uint64(max(d, 0))
	i := 0
	for i < len(durBucketsNs) && ns > durBucketsNs[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(ns)
}

// metrics is the server's registry of counters. Counters live across
// views: a view holds pointers into it.
type metrics struct {
	mu        sync.Mutex
	zones     map[string]*zoneCounters
	services  map[string]*svcCounters
	truncated atomic.Uint64
	panics    atomic.Uint64
	// signFailures counts DO=1 responses that could not be signed;
	// signing says, by signed zone, whether this site can sign it.
	signFailures atomic.Uint64
	signing      map[string]bool
	tcpConns     atomic.Int64
	// tcpRefused counts TCP connections turned away or closed by the
	// caps, by tcpRefusedReasons.
	tcpRefused [len(tcpRefusedReasons)]atomic.Uint64
	// rrl counts the responses RRL limited: rrlDropped, rrlSlipped.
	rrl    [2]atomic.Uint64
	dur    [2]histogram
	noZone *zoneCounters
	// serviceLimit is Config.ServiceMetrics: with more services, a scrape
	// sums their counters by zone and site (see Collect). 0: no limit.
	serviceLimit int
}

func newMetrics() *metrics {
	m := &metrics{zones: map[string]*zoneCounters{}, services: map[string]*svcCounters{}}
	m.noZone = m.zone("")
	return m
}

func (m *metrics) zone(name string) *zoneCounters {
	m.mu.Lock()
	defer m.mu.Unlock()
	z := m.zones[name]
	if z == nil {
		z = &zoneCounters{name: name}
		m.zones[name] = z
	}
	return z
}

// service returns the counters of a service answering from sites. A
// change of sites gets a new set carrying the old values over.
func (m *metrics) service(name, zone string, sites []string) *svcCounters {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.services[name]
	if old != nil && old.zone == zone && equalStrings(old.sites, sites) {
		return old
	}
	s := &svcCounters{name: name, zone: zone, sites: sites, addr: make([][2][2]atomic.Uint64, len(sites)+1)}
	if old != nil && old.zone == zone {
		s.addAddrs(old, false) // a site that is gone takes its counts with it
		if r := old.rare.Load(); r != nil {
			s.rare.Store(r)
		}
	}
	m.services[name] = s
	return s
}

// addAddrs adds o's address answer counts to s's, site by site. A site
// s does not have is given a slot when grow is set, else dropped.
func (s *svcCounters) addAddrs(o *svcCounters, grow bool) {
	for i := range o.addr {
		j := 0
		if i > 0 {
			site := o.sites[i-1]
			if j = s.slot(site); j == 0 {
				if !grow {
					continue
				}
				s.sites = append(s.sites, site)
				s.addr = append(s.addr, [2][2]atomic.Uint64{})
				j = len(s.sites)
			}
		}
		for f := range 2 {
			for p := range 2 {
				s.addr[j][f][p].Add(o.addr[i][f][p].Load())
			}
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// keep drops the counters of services and zones no longer configured.
func (m *metrics) keep(zones map[string]bool, services map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for n := range m.services {
		if !services[n] {
			delete(m.services, n)
		}
	}
	for n := range m.zones {
		if n != "" && !zones[n] {
			delete(m.zones, n)
		}
	}
}

var (
	descQueries = prometheus.NewDesc("meridian_dns_queries_total",
		"DNS queries answered, by zone, query type, response code, transport and, for GSLB service names, service and answered site.",
		[]string{"zone", "qtype", "rcode", "proto", "service", "site"}, nil)
	descDuration = prometheus.NewDesc("meridian_dns_request_duration_seconds",
		"Time from a query's arrival in the handler to its response being built.",
		[]string{"proto"}, nil)
	descTruncated = prometheus.NewDesc("meridian_dns_responses_truncated_total",
		"UDP responses sent with TC=1 because they did not fit.", nil, nil)
	descTCPConns = prometheus.NewDesc("meridian_dns_tcp_connections",
		"Open DNS-over-TCP connections.", nil, nil)
	descTCPRefused = prometheus.NewDesc("meridian_dns_tcp_connections_closed_total",
		"DNS-over-TCP connections closed by the caps: per_source (a client over dns.max_tcp_connections_per_source), full (every slot busy with a query), evicted_idle (the longest idle, to admit a new one).",
		[]string{"reason"}, nil)
	descRRL = prometheus.NewDesc("meridian_dns_rrl_responses_total",
		"UDP responses limited by response rate limiting (dns.rrl), by action: dropped, or slipped (sent truncated, so that a real client retries over TCP).",
		[]string{"action"}, nil)
	descPanics = prometheus.NewDesc("meridian_dns_panics_total",
		"Queries whose handling panicked and were answered SERVFAIL.", nil, nil)
	descSignFailures = prometheus.NewDesc("meridian_dns_dnssec_sign_failures_total",
		"Responses to DO=1 queries answered SERVFAIL because they could not be signed (the site lacks the zone's keys, or signing failed).", nil, nil)
	descSigning = prometheus.NewDesc("meridian_dns_dnssec_signing",
		"1 for a signed zone this site signs, 0 for one it cannot (its keys did not load: see the log).", []string{"zone"}, nil)
)

// setSigning records whether this site can sign zone; ok nil forgets it.
func (m *metrics) setSigning(zone string, ok *bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok == nil {
		delete(m.signing, zone)
		return
	}
	if m.signing == nil {
		m.signing = map[string]bool{}
	}
	m.signing[zone] = *ok
}

type collector struct{ m *metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueries, descDuration, descTruncated, descTCPConns, descTCPRefused, descRRL, descPanics, descSignFailures, descSigning} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	zones := make([]*zoneCounters, 0, len(m.zones))
	for _, z := range m.zones {
		zones = append(zones, z)
	}
	svcs := make([]*svcCounters, 0, len(m.services))
	for _, s := range m.services {
		svcs = append(svcs, s)
	}
	signing := make(map[string]bool, len(m.signing))
	for z, ok := range m.signing {
		signing[z] = ok
	}
	m.mu.Unlock()

	emit := func(v uint64, zone string, qt, rc, proto int, svc, site string) {
		if v == 0 {
			return
		}
		ch <- prometheus.MustNewConstMetric(descQueries, prometheus.CounterValue, float64(v),
			zone, qtypeNames[qt], rcodeNames[rc], protoNames[proto], svc, site)
	}
	for _, z := range zones {
		for qt := range nQtype {
			for rc := range nRcode {
				for p := range 2 {
					emit(z.c[qt][rc][p].Load(), z.name, qt, rc, p, "", "")
				}
			}
		}
	}
	if m.serviceLimit > 0 && len(svcs) > m.serviceLimit {
		// Past the limit a scrape emits one series per zone and site,
		// not per service: at 100k services the per-service series made
		// /metrics 33 MB and 3 s. The counting itself stays per service:
		// one set of counters shared by every query made the query path
		// slower (p99 2 ms -> 7 ms at 20k q/s on two cores).
		svcs = sumByZone(svcs)
	}
	for _, s := range svcs {
		for i := range s.addr {
			site := ""
			if i > 0 {
				site = s.sites[i-1]
			}
			for f, qt := range [2]int{qtypeIndex(dns.TypeA), qtypeIndex(dns.TypeAAAA)} {
				for p := range 2 {
					emit(s.addr[i][f][p].Load(), s.zone, qt, 0, p, s.name, site)
				}
			}
		}
		if r := s.rare.Load(); r != nil {
			for qt := range nQtype {
				for rc := range nRcode {
					for p := range 2 {
						emit(r[qt][rc][p].Load(), s.zone, qt, rc, p, s.name, "")
					}
				}
			}
		}
	}
	for p := range 2 {
		h := &m.dur[p]
		buckets := make(map[float64]uint64, len(durBuckets))
		var cum uint64
		for i, ub := range durBuckets {
			cum += h.counts[i].Load()
			buckets[ub] = cum
		}
		cum += h.counts[len(durBuckets)].Load()
		ch <- prometheus.MustNewConstHistogram(descDuration, cum, float64(h.sumNs.Load())/1e9, buckets, protoNames[p])
	}
	ch <- prometheus.MustNewConstMetric(descTruncated, prometheus.CounterValue, float64(m.truncated.Load()))
	ch <- prometheus.MustNewConstMetric(descTCPConns, prometheus.GaugeValue, float64(m.tcpConns.Load()))
	for i, reason := range tcpRefusedReasons {
		ch <- prometheus.MustNewConstMetric(descTCPRefused, prometheus.CounterValue, float64(m.tcpRefused[i].Load()), reason)
	}
	ch <- prometheus.MustNewConstMetric(descRRL, prometheus.CounterValue, float64(m.rrl[rrlDropped].Load()), "dropped")
	ch <- prometheus.MustNewConstMetric(descRRL, prometheus.CounterValue, float64(m.rrl[rrlSlipped].Load()), "slipped")
	ch <- prometheus.MustNewConstMetric(descPanics, prometheus.CounterValue, float64(m.panics.Load()))
	ch <- prometheus.MustNewConstMetric(descSignFailures, prometheus.CounterValue, float64(m.signFailures.Load()))
	for z, ok := range signing {
		v := 0.0
		if ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descSigning, prometheus.GaugeValue, v, z)
	}
}

// sumByZone adds up the counters of svcs by zone and site, into one set
// per zone named "" (the service label of the sums).
func sumByZone(svcs []*svcCounters) []*svcCounters {
	byZone := map[string]*svcCounters{}
	var out []*svcCounters
	for _, s := range svcs {
		z := byZone[s.zone]
		if z == nil {
			z = &svcCounters{zone: s.zone, addr: make([][2][2]atomic.Uint64, 1)}
			byZone[s.zone] = z
			out = append(out, z)
		}
		z.addAddrs(s, true)
		if r := s.rare.Load(); r != nil {
			zr := z.rare.Load()
			if zr == nil {
				zr = new([nQtype][nRcode][2]atomic.Uint64)
				z.rare.Store(zr)
			}
			for qt := range nQtype {
				for rc := range nRcode {
					for p := range 2 {
						zr[qt][rc][p].Add(r[qt][rc][p].Load())
					}
				}
			}
		}
	}
	return out
}

// AnswersBySite counts, since the start, the A and AAAA answers of
// service names by the site they named: the status page's answer share
// (a difference of two readings). It walks every service's counters, so
// callers read it at most every few seconds.
func (s *Server) AnswersBySite() map[string]uint64 {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]uint64{}
	for _, sc := range m.services {
		for i := 1; i < len(sc.addr); i++ {
			var n uint64
			for f := range 2 {
				for p := range 2 {
					n += sc.addr[i][f][p].Load()
				}
			}
			if n > 0 {
				out[sc.sites[i-1]] += n
			}
		}
	}
	return out
}
