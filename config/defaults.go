package config

import (
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
)

// Default server settings. The gslb defaults (TTL, masks, SOA timers) are
// applied by gslb.State.ApplyDefaults.
const (
	defaultDNSListen      = ":53"
	defaultLogLevel       = "info"
	defaultLogFormat      = "text"
	defaultTCPIdleTimeout = Duration(10 * time.Second)
)

// DefaultHTTPListen is http.listen when the file leaves it out, where
// `meridian explain` looks for a server by default.
const DefaultHTTPListen = "127.0.0.1:8053"

// applyServerDefaults fills the process settings that were left out.
func (c *Config) applyServerDefaults() {
	if len(c.DNS.Listen) == 0 {
		c.DNS.Listen = []string{defaultDNSListen}
	}
	if c.DNS.TCPIdleTimeout == 0 {
		c.DNS.TCPIdleTimeout = defaultTCPIdleTimeout
	}
	if c.DNS.MaxTCPConnections == 0 {
		c.DNS.MaxTCPConnections = dnsserver.DefaultMaxTCPConns
	}
	if c.DNS.MaxTCPConnectionsPerSource == 0 && c.DNS.MaxTCPConnections > 0 {
		// (a negative cap is reported as such, not again through this)
		c.DNS.MaxTCPConnectionsPerSource = min(dnsserver.DefaultMaxTCPConnsPerSource, c.DNS.MaxTCPConnections)
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultHTTPListen
	}
	if c.Log.Level == "" {
		c.Log.Level = defaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = defaultLogFormat
	}
}
