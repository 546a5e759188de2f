package config

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/sites"
)

// GossipConfig is the gossip key: this process as one member of a
// multi-site Meridian cluster. Without it (no role) the process runs
// standalone. None of it changes without a restart, except the keys of
// key_file, which a reload rereads (key rotation).
type GossipConfig struct {
	// Role is leader (publishes the zones, sites and services of this
	// file to every site) or follower (serves what the leader publishes;
	// its file has no zones, sites or services).
	Role string `mapstructure:"role" json:"role,omitempty"`
	// Site is the site this process serves and probes from; a leader's
	// must be one of its sites.
	Site string `mapstructure:"site" json:"site,omitempty"`
	// NodeName is unique in the cluster; default the host name and the
	// site ("host-site").
	NodeName string `mapstructure:"node_name" json:"node_name,omitempty"`
	// Listen is where gossip (UDP and TCP) and state transfers (TCP)
	// are served, host:port; default 0.0.0.0:7946.
	Listen string `mapstructure:"listen" json:"listen,omitempty"`
	// Advertise is the host:port other sites dial when it differs from
	// Listen (NAT, a Kubernetes Service).
	Advertise string `mapstructure:"advertise" json:"advertise,omitempty"`
	// AdvertiseService, namespace/name, is a LoadBalancer Service of
	// this pod's own: at start the process advertises the Service's
	// external address and port (the Helm chart's loadBalancer mode).
	AdvertiseService string `mapstructure:"advertise_service" json:"advertise_service,omitempty"`
	// Join lists peers, host or host:port, names or IPs; retried until
	// one answers.
	Join []string `mapstructure:"join" json:"join,omitempty"`
	// KeyFile holds the gossip keys, one base64 key per line, primary
	// first (meridian gossip-key prints a new one). Required unless
	// Insecure.
	KeyFile string `mapstructure:"key_file" json:"key_file,omitempty"`
	// Insecure runs gossip without encryption or authentication.
	Insecure bool `mapstructure:"insecure" json:"insecure,omitempty"`
	// StateFile keeps the last state received, so a restarted follower
	// serves at once, before it reaches any peer. A leader keeps its
	// last published state there, which gives its next term.
	StateFile string `mapstructure:"state_file" json:"state_file,omitempty"`
	// Timing is memberlist's profile: wan (default), lan or local.
	Timing string `mapstructure:"timing" json:"timing,omitempty"`
	// PushPullInterval is how often each node exchanges its state
	// version and observations with a random peer (anti-entropy);
	// default the profile's.
	PushPullInterval Duration `mapstructure:"push_pull_interval" json:"push_pull_interval,omitempty"`
}

// SiteRole is the process's role, leader or follower: "" when standalone.
func (g *GossipConfig) SiteRole() sites.Role {
	return sites.Role(strings.ToLower(strings.TrimSpace(g.Role)))
}

// Enabled reports whether this process gossips (it is not standalone).
func (g *GossipConfig) Enabled() bool { return g.SiteRole() != "" }

// Follower reports whether this process serves the leader's State.
func (g *GossipConfig) Follower() bool { return g.SiteRole() == sites.RoleFollower }

var gossipTimings = []string{string(sites.TimingWAN), string(sites.TimingLAN), string(sites.TimingLocal)}

// defaultGossipListen is memberlist's usual port on every address.
var defaultGossipListen = net.JoinHostPort(sites.DefaultBindAddr, strconv.Itoa(sites.DefaultPort))

// applyGossipDefaults fills what was left out of a gossip section in use.
func (c *Config) applyGossipDefaults() {
	g := &c.Gossip
	if !g.Enabled() {
		return
	}
	g.Role = string(g.SiteRole())
	if g.Listen == "" {
		g.Listen = defaultGossipListen
	}
	if g.Timing == "" {
		g.Timing = string(sites.TimingWAN)
	}
	g.Timing = strings.ToLower(g.Timing)
	if g.NodeName == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "meridian"
		}
		g.NodeName = host + "-" + g.Site
	}
}

// checkGossip checks the gossip section and what a role allows in the
// rest of the file. A follower takes zones, sites and services (with
// their health checks and overrides) from the leader, so its file must
// not have them: they would be silently ignored.
func (c *Config) checkGossip(p *problems) {
	g := &c.Gossip
	if g.Role == "" {
		if g.Site != "" || len(g.Join) > 0 || g.KeyFile != "" || g.StateFile != "" {
			p.add("gossip.role", "set leader or follower (or remove the gossip section to run standalone)")
		}
		return
	}
	switch g.SiteRole() {
	case sites.RoleLeader, sites.RoleFollower:
	default:
		p.add("gossip.role", "unknown role %q (want leader or follower)", g.Role)
		return
	}
	if g.Site == "" {
		p.add("gossip.site", "required: the site this process serves and probes from")
	} else if !g.Follower() && !slices.ContainsFunc(c.Sites, func(s SiteConfig) bool { return strings.EqualFold(s.Name, g.Site) }) {
		p.add("gossip.site", "unknown site %q: a leader's site must be one of its sites", g.Site)
	}
	checkListen(p, "gossip.listen", g.Listen)
	if g.Advertise != "" {
		checkListen(p, "gossip.advertise", g.Advertise)
	}
	if g.AdvertiseService != "" {
		if g.Advertise != "" {
			p.add("gossip.advertise_service", "conflicts with advertise: give one")
		}
		if ns, name, ok := strings.Cut(g.AdvertiseService, "/"); !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			p.add("gossip.advertise_service", "%q is not namespace/name", g.AdvertiseService)
		}
	}
	for i, j := range g.Join {
		if strings.TrimSpace(j) == "" {
			p.add(fmt.Sprintf("gossip.join[%d]", i), "empty address")
		}
	}
	switch {
	case g.KeyFile != "" && g.Insecure:
		p.add("gossip.insecure", "conflicts with key_file: give one")
	case g.KeyFile == "" && !g.Insecure:
		p.add("gossip.key_file", "required: gossip between sites is encrypted and authenticated (generate a key with `meridian gossip-key`, or set insecure: true for a test)")
	case g.KeyFile != "" && !p.regularFile("gossip.key_file", g.KeyFile):
	case g.KeyFile != "":
		if _, err := sites.ReadKeyFile(g.KeyFile); err != nil {
			p.add("gossip.key_file", "%v", err)
		}
	}
	if !slices.Contains(gossipTimings, g.Timing) {
		p.add("gossip.timing", "unknown timing %q (want one of %v)", g.Timing, gossipTimings)
	}
	if g.PushPullInterval < 0 {
		p.add("gossip.push_pull_interval", "must not be negative")
	}
	if !g.Follower() {
		return
	}
	const why = "a follower serves the leader's; set it on the leader"
	if len(c.Zones) > 0 {
		p.add("zones", "%s", why)
	}
	if len(c.Sites) > 0 {
		p.add("sites", "%s", why)
	}
	if len(c.Services) > 0 {
		p.add("services", "%s", why)
	}
	if c.Health.DefaultCheck != nil {
		p.add("health.default_check", "%s (health checks travel with the services)", why)
	}
	if len(c.Admin.Sites) > 0 || len(c.Admin.Members) > 0 {
		p.add("admin", "file overrides name the leader's sites and members: %s (the admin API works on every site)", why)
	}
}

// SitesConfig is the sites.Config of this process; the caller adds the
// callbacks, logger and metrics.
func (g *GossipConfig) SitesConfig(ver string) sites.Config {
	host, port := splitHostPort(g.Listen)
	cfg := sites.Config{
		NodeName:         g.NodeName,
		Site:             g.Site,
		Role:             g.SiteRole(),
		Version:          ver,
		BindAddr:         host,
		BindPort:         port,
		Join:             g.Join,
		KeyFile:          g.KeyFile,
		Insecure:         g.Insecure,
		StateFile:        g.StateFile,
		Timing:           sites.Timing(g.Timing),
		PushPullInterval: time.Duration(g.PushPullInterval),
	}
	if g.Advertise != "" {
		cfg.AdvertiseAddr, cfg.AdvertisePort = splitHostPort(g.Advertise)
	}
	return cfg
}

// splitHostPort splits a checked host:port.
func splitHostPort(hp string) (string, int) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return hp, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}
