package config

import (
	"fmt"
	"os"
	"time"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
)

// ZoneDNSSECConfig is zones[i].dnssec: sign the zone online at every site
// (docs/dnssec.md). The keys are named by their file base names in each
// site's dns.dnssec_key_directory; the leader reads their public halves
// into the State, and every site signs with its own copy of the private
// halves.
type ZoneDNSSECConfig struct {
	Keys              []DNSSECKeyConfig `mapstructure:"keys" json:"keys"`
	SignatureValidity Duration          `mapstructure:"signature_validity" json:"signature_validity,omitempty"`
	SignatureRefresh  Duration          `mapstructure:"signature_refresh" json:"signature_refresh,omitempty"`
	DNSKEYTTL         uint32            `mapstructure:"dnskey_ttl" json:"dnskey_ttl,omitempty"`
}

// DNSSECKeyConfig is one key of zones[i].dnssec.keys.
type DNSSECKeyConfig struct {
	// Name is K<zone>+<alg>+<tag>, as `meridian dnssec keygen` prints it.
	Name string `mapstructure:"name" json:"name"`
	// State is active (published and signing, the default) or published
	// (in the DNSKEY RRset only: a successor before it signs, or a
	// retired key until its signatures have left the caches).
	State string `mapstructure:"state" json:"state,omitempty"`
}

// Key states of zones[i].dnssec.keys[j].state.
const (
	KeyActive    = "active"
	KeyPublished = "published"
)

// toDNSSEC reads the public keys into the zone's settings; path is
// "zones[i].dnssec".
func (d *ZoneDNSSECConfig) toDNSSEC(p *problems, path, dir string) *gslb.ZoneDNSSEC {
	out := &gslb.ZoneDNSSEC{
		SignatureValidity: time.Duration(d.SignatureValidity),
		SignatureRefresh:  time.Duration(d.SignatureRefresh),
		DNSKEYTTL:         d.DNSKEYTTL,
	}
	for j, k := range d.Keys {
		kp := fmt.Sprintf("%s.keys[%d]", path, j)
		var publish bool
		switch k.State {
		case "", KeyActive:
		case KeyPublished:
			publish = true
		default:
			p.add(kp+".state", "want %s or %s, got %q", KeyActive, KeyPublished, k.State)
		}
		pub, err := dnsserver.ReadPublicKey(dir, k.Name)
		if err != nil {
			p.add(kp, "%v", err) // where gslb reports the missing public key
		}
		out.Keys = append(out.Keys, gslb.DNSSECKey{Name: k.Name, DNSKEY: pub, Publish: publish})
	}
	return out
}

// checkKeyDirectory checks dns.dnssec_key_directory, when set, is a
// directory: a follower names it before any signed zone reaches it.
func (d *DNSConfig) checkKeyDirectory(p *problems) {
	if d.DNSSECKeyDirectory == "" {
		return
	}
	fi, err := os.Stat(d.DNSSECKeyDirectory)
	switch {
	case err != nil:
		p.add("dns.dnssec_key_directory", "%s: %v", d.DNSSECKeyDirectory, statReason(err))
	case !fi.IsDir():
		p.add("dns.dnssec_key_directory", "%s is not a directory", d.DNSSECKeyDirectory)
	}
}

// checkDNSSEC builds each signed zone's signer once, as every site will:
// keys of another zone, a key set without a KSK or an algorithm that
// signs only half of the zone are refused here, on the leader, before
// any site serves them. st's zones must have their defaults applied.
func (c *Config) checkDNSSEC(st *gslb.State, p *problems) {
	for i := range st.Zones {
		prefix := fmt.Sprintf("zones[%d].", i)
		if st.Zones[i].DNSSEC == nil || p.under(prefix+"dnssec") || p.has(prefix+"name") {
			continue
		}
		if _, err := dnsserver.NewZoneSigner(&st.Zones[i], c.DNS.DNSSECKeyDirectory); err != nil {
			p.adopt(prefix, err, "dnssec")
		}
	}
}
