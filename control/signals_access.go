package control

import "github.com/meridian-gslb/meridian/health"

// Signals is the load store (issue #12): this site's probe readings,
// other sites' readings through the gossip, and Prometheus'.
func (p *Publisher) Signals() *health.Signals { return p.signals }
