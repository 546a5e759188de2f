package dnsserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver/dnssec"
	"github.com/meridian-gslb/meridian/gslb"
)

// This file turns a zone's dnssec settings (gslb.ZoneDNSSEC, public data
// that travels in the State) and a site's key directory (private keys that
// never leave it) into a dnssec.Signer: the one rule, used by the config
// loader to check a leader's keys and by every site's server.

// ReadPublicKey reads the key pair <dir>/<name>.key and .private (checking
// that they match) and returns the public DNSKEY in presentation form, for
// gslb.DNSSECKey. name is BIND's base name, K<zone>+<alg>+<tag>.
func ReadPublicKey(dir, name string) (string, error) {
	k, err := loadKey(dir, name)
	if err != nil {
		return "", err
	}
	return k.DNSKEY.String(), nil
}

func loadKey(dir, name string) (*dnssec.Key, error) {
	if dir == "" {
		return nil, errors.New("no key directory: set dns.dnssec_key_directory at this site")
	}
	if name == "" || strings.ContainsAny(name, `/\`) || !strings.HasPrefix(name, "K") {
		return nil, fmt.Errorf("key name %q: want a file base name K<zone>+<algorithm>+<tag>, without directory or suffix", name)
	}
	path := filepath.Join(dir, name+".key")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// Kubernetes Secret keys cannot hold "+": a Secret mounted as the
		// key directory names the files K<zone>_<alg>_<tag> instead.
		if alt := filepath.Join(dir, strings.ReplaceAll(name, "+", "_")+".key"); fileExists(alt) {
			path = alt
		}
	}
	return dnssec.LoadFiles(path)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// NewZoneSigner loads the keys of z (ZoneKeys) and returns the zone's
// signer.
func NewZoneSigner(z *gslb.Zone, dir string) (*dnssec.Signer, error) {
	keys, err := ZoneKeys(z, dir)
	if err != nil {
		return nil, err
	}
	s, err := dnssec.NewSigner(z.Name, keys, signerOptions(z.DNSSEC))
	if err != nil {
		return nil, fmt.Errorf("dnssec.keys: %w", err)
	}
	return s, nil
}

// ZoneKeys loads the private keys of z's dnssec settings from dir, in the
// settings' order, published-only ones marked Standby. It refuses a key
// whose public half differs from the one in the settings: every site must
// sign with the keys the leader publishes, or validators would reject its
// answers.
func ZoneKeys(z *gslb.Zone, dir string) ([]*dnssec.Key, error) {
	d := z.DNSSEC
	if d == nil {
		return nil, errors.New("zone is not signed")
	}
	keys := make([]*dnssec.Key, 0, len(d.Keys))
	for i, kc := range d.Keys {
		k, err := loadKey(dir, kc.Name)
		if err != nil {
			return nil, fmt.Errorf("dnssec.keys[%d]: %w", i, err)
		}
		want, err := dns.NewRR(kc.DNSKEY)
		if err != nil {
			return nil, fmt.Errorf("dnssec.keys[%d].dnskey: %v", i, err)
		}
		wk, ok := want.(*dns.DNSKEY)
		if owner := k.DNSKEY.Hdr.Name; owner != z.Name {
			return nil, fmt.Errorf("dnssec.keys[%d]: %s is a key of zone %s, not of %s", i, kc.Name, owner, z.Name)
		}
		if !ok || wk.Flags != k.DNSKEY.Flags || wk.Algorithm != k.DNSKEY.Algorithm || wk.PublicKey != k.DNSKEY.PublicKey ||
			dns.CanonicalName(wk.Hdr.Name) != z.Name {
			return nil, fmt.Errorf("dnssec.keys[%d]: %s at this site is not the key the zone publishes", i, kc.Name)
		}
		k.Standby = kc.Publish
		keys = append(keys, k)
	}
	return keys, nil
}

// signerOptions maps the settings to the signer's options. The jitter
// spreads expirations over a quarter of the window between refresh and
// expiry (at most the signer's default day), so short test validities
// still leave a fresh signature time before it is refreshed.
func signerOptions(d *gslb.ZoneDNSSEC) dnssec.Options {
	o := dnssec.Options{Validity: d.SignatureValidity, Refresh: d.SignatureRefresh, DNSKEYTTL: d.DNSKEYTTL}
	validity, refresh := o.Validity, o.Refresh
	if validity == 0 {
		validity = dnssec.DefaultValidity
	}
	if refresh == 0 {
		refresh = dnssec.DefaultRefresh
	}
	if refresh >= validity {
		return o // NewSigner says what is wrong
	}
	o.Jitter = min(dnssec.DefaultJitter, (validity-refresh)/4)
	if o.Jitter < time.Second {
		o.Jitter = -1 // none
	}
	return o
}
