package control

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

// loadCollector exports each load-shedding member's signal and shed share
// from the served snapshot at scrape time: nothing to keep in step, and
// no series for services without load shedding.
type loadCollector struct {
	p     *Publisher
	value *prometheus.Desc
	age   *prometheus.Desc
	shed  *prometheus.Desc
}

func newLoadCollector(p *Publisher) *loadCollector {
	labels := []string{"service", "member", "site"}
	return &loadCollector{
		p: p,
		value: prometheus.NewDesc("meridian_member_load", "The member's load signal as the decision reads it (absent while it has none, or it is older than the policy's max_age).",
			labels, nil),
		age: prometheus.NewDesc("meridian_member_load_age_seconds", "How old the member's latest load reading is.",
			append(labels, "source"), nil),
		shed: prometheus.NewDesc("meridian_member_load_shed_ratio", "The share of client networks moved off the member by load shedding (1: over the high watermark).",
			labels, nil),
	}
}

func (c *loadCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.value
	ch <- c.age
	ch <- c.shed
}

func (c *loadCollector) Collect(ch chan<- prometheus.Metric) {
	c.p.mu.Lock()
	names := c.p.loaded
	c.p.mu.Unlock()
	snap := c.p.store.Load()
	if snap == nil {
		return
	}
	for _, name := range names {
		members, _ := snap.MemberLoads(name)
		for _, m := range members {
			c.collect(ch, name, &m)
		}
	}
}

func (c *loadCollector) collect(ch chan<- prometheus.Metric, service string, m *gslb.MemberLoadStatus) {
	l := &m.Load
	if l.Value != nil && l.AgeSeconds != nil {
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, *l.AgeSeconds, service, m.Member, m.Site, l.Source)
		if !l.Stale {
			ch <- prometheus.MustNewConstMetric(c.value, prometheus.GaugeValue, *l.Value, service, m.Member, m.Site)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.shed, prometheus.GaugeValue, l.Shed, service, m.Member, m.Site)
}
