package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/delegation"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites"
)

// DelegationConfig is zones[i].delegation: keep the zone's NS RRset and
// glue in the parent zone in step with the live sites, by dynamic updates
// (RFC 2136) signed with TSIG (RFC 8945). Absent: the parent is left
// alone (docs/delegation.md).
type DelegationConfig struct {
	// Server is the parent zone's primary, host:port (port 53 when left
	// out), which takes the updates.
	Server string `mapstructure:"server" json:"server"`
	// Zone is the parent zone; default: the zone without its first label.
	Zone string     `mapstructure:"zone" json:"zone,omitempty"`
	TSIG TSIGConfig `mapstructure:"tsig" json:"tsig"`
	// Grace is how long a site that left stays delegated: a restart or a
	// short partition must not take its name servers out of the parent,
	// whose NS TTL caches keep anyway.
	Grace Duration `mapstructure:"grace" json:"grace,omitempty"`
	// Interval is how often the parent is read and corrected even when no
	// site came or went (someone else may have changed it).
	Interval Duration `mapstructure:"interval" json:"interval,omitempty"`
	// TTL of the records added to the parent; default: the zone's ns_ttl.
	TTL uint32 `mapstructure:"ttl" json:"ttl,omitempty"`
}

// TSIGConfig is the key that signs the updates. The secret is read from
// SecretFile at every load (a reload picks up a new one) and kept out of
// every printed form of the configuration: it is in an unexported field,
// which neither JSON nor mapstructure sees, behind a pointer, which fmt
// prints as an address.
type TSIGConfig struct {
	Name       string `mapstructure:"name" json:"name"`
	Algorithm  string `mapstructure:"algorithm" json:"algorithm,omitempty"`
	SecretFile string `mapstructure:"secret_file" json:"secret_file"`
	secret     *tsigSecret
}

type tsigSecret struct{ base64 string }

// Defaults of zones[i].delegation.
const (
	DefaultDelegationGrace    = Duration(10 * time.Minute)
	DefaultDelegationInterval = Duration(time.Minute)
	minDelegationInterval     = Duration(time.Second)
)

// checkDelegation validates nameservers[j].site and zones[i].delegation,
// fills the delegation's defaults and reads its TSIG secret. st's zones
// must have their defaults applied (names canonical, ns_ttl set).
func (c *Config) checkDelegation(st *gslb.State, p *problems) {
	for i := range c.Zones {
		zc := &c.Zones[i]
		for j := range zc.NameServers {
			ns := &zc.NameServers[j]
			if ns.Site == "" {
				continue
			}
			if site := FindSite(st, ns.Site); site != "" {
				ns.Site = site
			} else {
				p.add(fmt.Sprintf("zones[%d].nameservers[%d].site", i, j), "unknown site %q", ns.Site)
			}
		}
		if zc.Delegation == nil || i >= len(st.Zones) || p.has(fmt.Sprintf("zones[%d].name", i)) {
			continue
		}
		zc.Delegation.check(&st.Zones[i], fmt.Sprintf("zones[%d].delegation", i), p)
	}
}

func (d *DelegationConfig) check(z *gslb.Zone, path string, p *problems) {
	if d.Server == "" {
		p.add(path+".server", "the parent zone's primary server is required (host:port)")
	} else if hp, err := delegation.ServerAddr(d.Server); err != nil {
		p.add(path+".server", "%q: %v", d.Server, err)
	} else {
		d.Server = hp
	}
	switch {
	case d.Zone == "":
		if d.Zone = delegation.ParentZone(z.Name); d.Zone == "" {
			p.add(path+".zone", "%s has no parent zone to default to; give one", z.Name)
		}
	case delegation.CheckName(d.Zone) != nil:
		p.add(path+".zone", "%v", delegation.CheckName(d.Zone))
	default:
		d.Zone = gslb.CanonicalName(d.Zone)
		if d.Zone == z.Name || !delegation.InBailiwick(z.Name, d.Zone) {
			p.add(path+".zone", "%s is not a parent of the zone %s", d.Zone, z.Name)
		}
	}
	d.TSIG.check(path+".tsig", p)
	if d.Grace < 0 {
		p.add(path+".grace", "must not be negative, got %s", time.Duration(d.Grace))
	} else if d.Grace == 0 {
		d.Grace = DefaultDelegationGrace
	}
	switch {
	case d.Interval == 0:
		d.Interval = DefaultDelegationInterval
	case d.Interval < minDelegationInterval:
		p.add(path+".interval", "must be at least %s, got %s", time.Duration(minDelegationInterval), time.Duration(d.Interval))
	}
	if d.TTL == 0 {
		d.TTL = z.NSTTL
	}
}

func (k *TSIGConfig) check(path string, p *problems) {
	if k.Name == "" {
		p.add(path+".name", "the key name is required (RFC 8945)")
	} else if err := delegation.CheckName(k.Name); err != nil {
		p.add(path+".name", "%v", err)
	}
	if alg, err := dnsserver.ParseTSIGAlgorithm(k.Algorithm); err != nil {
		p.add(path+".algorithm", "%v", err)
	} else {
		k.Algorithm = alg
	}
	field := path + ".secret_file"
	if k.SecretFile == "" {
		p.add(field, "the file of the key's base64 secret is required")
		return
	}
	b, ok := p.readFile(field, k.SecretFile)
	if !ok {
		return
	}
	secret, err := dnsserver.ParseTSIGSecret(string(b))
	if err != nil {
		p.add(field, "%s: %v", k.SecretFile, err) // never the file's text
		return
	}
	k.secret = &tsigSecret{secret}
}

// key is the checked key as dnsserver takes it (no secret when its file
// did not read).
func (k *TSIGConfig) key() dnsserver.TSIGKey {
	key := dnsserver.TSIGKey{Name: k.Name, Algorithm: k.Algorithm}
	if k.secret != nil {
		key.Secret = k.secret.base64
	}
	return key
}

// ZoneDelegation is one zone's delegation as the configuration asks for
// it, defaults applied: what control keeps in the parent and what
// `meridian delegation check` compares.
type ZoneDelegation struct {
	Zone     string // the delegated zone
	Parent   string // the parent zone
	Server   string // the parent's primary, host:port; "" when not configured
	Key      delegation.TSIG
	TTL      uint32
	Grace    time.Duration
	Interval time.Duration
	// NameServers are the zone's, with their glue; Site is "" for a name
	// server that is always delegated.
	NameServers []DelegatedNameServer
}

// DelegatedNameServer is a name server of a zone and the site it runs at.
type DelegatedNameServer struct {
	delegation.NameServer
	Site string
}

// Wanted splits the zone's name servers by the sites live now: want are
// those the parent should list (no site, or a live one), down those of a
// site that is not live. The one rule for the running delegation (which
// holds down's names for a grace) and for `meridian delegation check`.
func (zd *ZoneDelegation) Wanted(live map[string]bool) (want delegation.Delegation, down []DelegatedNameServer) {
	for _, ns := range zd.NameServers {
		if ns.Site == "" || live[ns.Site] {
			want.NameServers = append(want.NameServers, ns.NameServer)
		} else {
			down = append(down, ns)
		}
	}
	return want, down
}

// LiveSites are the sites of st that serve now, by the delegation's rule:
// a site with an alive gossip member (members as sites.Status lists them),
// or every site of a standalone server (members nil).
func LiveSites(st *gslb.State, members []sites.Member) map[string]bool {
	live := map[string]bool{}
	if members == nil {
		for _, s := range st.Sites {
			live[s.Name] = true
		}
		return live
	}
	for _, m := range members {
		if name := FindSite(st, m.Site); name != "" && m.Status == sites.StatusAlive {
			live[name] = true
		}
	}
	return live
}

// Delegations are the zones that have a delegation section.
func (l *Loaded) Delegations() []ZoneDelegation {
	var out []ZoneDelegation
	for i := range l.Config.Zones {
		if zd, ok := l.Delegation(i); ok {
			out = append(out, zd)
		}
	}
	return out
}

// Delegation is zone i's delegation, and whether the zone has a
// delegation section. Without one, only Zone, Parent (the default), TTL
// and NameServers are set.
func (l *Loaded) Delegation(i int) (ZoneDelegation, bool) {
	z, zc := &l.State.Zones[i], &l.Config.Zones[i]
	zd := ZoneDelegation{Zone: z.Name, Parent: delegation.ParentZone(z.Name), TTL: z.NSTTL}
	for _, ns := range z.NameServers {
		dn := DelegatedNameServer{NameServer: delegation.NameServer{Name: ns.Name, Addrs: slices.Clone(ns.Addresses)}}
		for _, c := range zc.NameServers {
			if gslb.CanonicalName(c.Name) == ns.Name {
				dn.Site = c.Site
			}
		}
		zd.NameServers = append(zd.NameServers, dn)
	}
	d := zc.Delegation
	if d == nil {
		return zd, false
	}
	zd.Parent, zd.Server, zd.TTL = d.Zone, d.Server, d.TTL
	zd.Grace, zd.Interval = time.Duration(d.Grace), time.Duration(d.Interval)
	zd.Key = d.TSIG.key()
	return zd, true
}
