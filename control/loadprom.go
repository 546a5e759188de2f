package control

import (
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/health"
)

// setPromQueries hands the load.prometheus queries of st to the
// Prometheus source. A site without health.prometheus.url cannot read
// them: it says so once per set of queries, and those members' load stays
// neutral unless another source reports it. mu held.
func (p *Publisher) setPromQueries(st *gslb.State) {
	qs := health.PromQueries(st)
	if p.prom != nil {
		p.prom.SetQueries(qs)
		return
	}
	if len(qs) > 0 && len(qs) != p.promWarned {
		p.log.Warn("load.prometheus queries but no health.prometheus.url at this site: their load is neutral here", "services", len(qs), "first", qs[0].Service)
	}
	p.promWarned = len(qs)
}

// PromStatus is each Prometheus query's last evaluation; nil without
// health.prometheus.url.
func (p *Publisher) PromStatus() []health.PromStatus {
	if p.prom == nil {
		return nil
	}
	return p.prom.Status()
}
