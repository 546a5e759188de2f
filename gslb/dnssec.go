package gslb

import (
	"fmt"
	"slices"
	"time"
)

// ZoneDNSSEC says that a zone is signed online and with which keys. It
// travels in the State with its zone, so every site publishes the same
// DNSKEY RRset and signs with the same active keys; it holds public data
// only. The private halves never travel: each site reads them from its
// own key directory (dnsserver.Config.DNSSECKeyDir), by Name.
type ZoneDNSSEC struct {
	Keys []DNSSECKey `json:"keys"`
	// SignatureValidity and SignatureRefresh: a new RRSIG is valid for
	// SignatureValidity and replaced when less than SignatureRefresh is
	// left (0: the signer's defaults, 14 and 7 days).
	SignatureValidity time.Duration `json:"signature_validity,omitempty"`
	SignatureRefresh  time.Duration `json:"signature_refresh,omitempty"`
	// DNSKEYTTL is the TTL of the DNSKEY, CDS and CDNSKEY RRsets (0:
	// 3600).
	DNSKEYTTL uint32 `json:"dnskey_ttl,omitempty"`
}

// DNSSECKey is one key of a signed zone.
type DNSSECKey struct {
	// Name is the key's file base name, BIND's K<zone>+<alg>+<tag>: a
	// site signs with <key directory>/<Name>.private.
	Name string `json:"name"`
	// DNSKEY is the public key, a DNSKEY record in presentation form. A
	// site refuses a private key whose public half differs.
	DNSKEY string `json:"dnskey"`
	// Publish keeps the key in the DNSKEY RRset without signing with
	// it: the pre-publish and post-retire phases of a rollover (RFC 6781
	// section 4.1).
	Publish bool `json:"publish,omitempty"`
}

// Clone returns a deep copy of d (nil for nil).
func (d *ZoneDNSSEC) Clone() *ZoneDNSSEC {
	if d == nil {
		return nil
	}
	c := *d
	c.Keys = slices.Clone(d.Keys)
	return &c
}

// Equal reports whether d and o sign alike; two nil settings are equal.
func (d *ZoneDNSSEC) Equal(o *ZoneDNSSEC) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.SignatureValidity == o.SignatureValidity && d.SignatureRefresh == o.SignatureRefresh &&
		d.DNSKEYTTL == o.DNSKEYTTL && slices.Equal(d.Keys, o.Keys)
}

// validate checks what gslb can without parsing the keys (the config
// loader and dnsserver parse them with miekg/dns): at least one signing
// key, names unique and present, and the timers' order. p is the zone's
// path ("zones[0]").
func (d *ZoneDNSSEC) validate(p string, bad func(string, string, ...any)) {
	if len(d.Keys) == 0 {
		bad(p+".dnssec.keys", "a signed zone needs at least one key")
		return
	}
	seen := map[string]bool{}
	signing := false
	for i, k := range d.Keys {
		kp := fmt.Sprintf("%s.dnssec.keys[%d]", p, i)
		switch {
		case k.Name == "":
			bad(kp+".name", "empty")
		case seen[k.Name]:
			bad(kp+".name", "key %q is listed twice", k.Name)
		case k.DNSKEY == "":
			bad(kp, "no public key (dnskey)")
		}
		seen[k.Name] = true
		signing = signing || !k.Publish
	}
	if !signing {
		bad(p+".dnssec.keys", "every key is publish-only; at least one must sign")
	}
	switch {
	case d.SignatureValidity < 0:
		bad(p+".dnssec.signature_validity", "must not be negative")
	case d.SignatureRefresh < 0:
		bad(p+".dnssec.signature_refresh", "must not be negative")
	case d.SignatureValidity > 0 && d.SignatureRefresh >= d.SignatureValidity:
		bad(p+".dnssec.signature_refresh", "%v must be less than signature_validity (%v)", d.SignatureRefresh, d.SignatureValidity)
	}
}
