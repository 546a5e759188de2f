package config

import (
	"net/url"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// PrometheusConfig is health.prometheus: the Prometheus server this site
// reads load signals from, for the policies with load.prometheus (issue
// #12). It needs a restart, like the other health settings.
type PrometheusConfig struct {
	// URL is the server's base URL (http://prometheus:9090); empty: no
	// Prometheus signals at this site.
	URL string `mapstructure:"url" json:"url,omitempty"`
	// Interval is how often every query is evaluated; Timeout bounds one.
	Interval Duration `mapstructure:"interval" json:"interval,omitempty"`
	Timeout  Duration `mapstructure:"timeout" json:"timeout,omitempty"`
}

// minPromInterval bounds health.prometheus.interval: a query a second
// is already more than a scrape interval of Prometheus can feed.
const minPromInterval = time.Second

func (pc *PrometheusConfig) applyDefaults() {
	// The defaults are the source's own (health.PromOptions).
	if pc.Interval == 0 {
		pc.Interval = Duration(health.DefaultPromInterval)
	}
	if pc.Timeout == 0 {
		pc.Timeout = Duration(min(health.DefaultPromTimeout, time.Duration(pc.Interval)))
	}
}

func (pc *PrometheusConfig) check(p *problems) {
	if pc.URL != "" {
		u, err := url.Parse(pc.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("health.prometheus.url", "want an http:// or https:// URL, got %q", pc.URL)
		}
	}
	if time.Duration(pc.Interval) < minPromInterval {
		p.add("health.prometheus.interval", "must be at least %s, got %s", minPromInterval, time.Duration(pc.Interval))
	}
	if pc.Timeout <= 0 || pc.Timeout > pc.Interval {
		p.add("health.prometheus.timeout", "must be above 0 and at most interval (%s), got %s", time.Duration(pc.Interval), time.Duration(pc.Timeout))
	}
}

// checkPrometheusQueries refuses a file whose policies query Prometheus
// while the site has no Prometheus to ask: the signal would never come.
func (c *Config) checkPrometheusQueries(p *problems) {
	if c.Health.Prometheus.URL != "" {
		return
	}
	for i := range c.Services {
		if l := c.Services[i].Policy.Load; l != nil && l.Prometheus != "" {
			p.add(indexPath("services", i)+".policy.load.prometheus", "needs health.prometheus.url: this site has no Prometheus to ask")
		}
	}
}
