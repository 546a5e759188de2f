package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// checkServer checks the process settings, which gslb does not know.
func (c *Config) checkServer(p *problems) {
	if len(c.Zones) == 0 && !c.Gossip.Follower() {
		p.add("zones", "at least one zone is required")
	}
	for i, l := range c.DNS.Listen {
		checkListen(p, fmt.Sprintf("dns.listen[%d]", i), l)
	}
	if c.DNS.TCPIdleTimeout < 0 {
		p.add("dns.tcp_idle_timeout", "must not be negative")
	}
	checkRRL(p, &c.DNS.RRL)
	c.DNS.readCookieSecrets(p)
	checkTSIGKeys(p, c.DNS.TSIGKeys)
	c.DNS.checkKeyDirectory(p)
	if c.DNS.MaxTCPConnections < 0 {
		p.add("dns.max_tcp_connections", "must not be negative, got %d", c.DNS.MaxTCPConnections)
	}
	if n := c.DNS.MaxTCPConnectionsPerSource; n < 0 || n > c.DNS.MaxTCPConnections && c.DNS.MaxTCPConnections > 0 {
		p.add("dns.max_tcp_connections_per_source", "want 1 to max_tcp_connections (%d), got %d", c.DNS.MaxTCPConnections, n)
	}
	if c.DNS.UDPSockets < 0 {
		p.add("dns.udp_sockets", "must not be negative, got %d", c.DNS.UDPSockets)
	}
	if c.DNS.ServiceMetrics < 0 {
		p.add("dns.service_metrics", "must not be negative, got %d", c.DNS.ServiceMetrics)
	}
	if len(c.DNS.NSID) > 128 {
		p.add("dns.nsid", "must be at most 128 characters")
	}
	checkListen(p, "http.listen", c.HTTP.Listen)
	if _, err := ParseLevel(c.Log.Level); err != nil {
		p.add("log.level", "%v", err)
	}
	if !slices.Contains(logFormats, strings.ToLower(c.Log.Format)) {
		p.add("log.format", "unknown format %q (want one of %v)", c.Log.Format, logFormats)
	}
}

// checkListen wants host:port with a numeric port; the host may be empty
// (every address).
func checkListen(p *problems, path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(path, "want host:port, got %q", addr)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.add(path, "port %q is not a number from 0 to 65535", port)
	}
}
