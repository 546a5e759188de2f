package dnssec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Options tune a Signer. The zero value gives the defaults.
type Options struct {
	// Validity is how long a new signature is valid, from now
	// (default 14 days). RFC 6781 section 4.4.2: long enough to outlast an
	// outage of the signer, short enough to limit replay.
	Validity time.Duration
	// Refresh re-signs an RRset when less than this remains of its
	// signature (default 7 days). It must exceed the largest TTL plus
	// the time a resolver may keep a cached signature, so a cached
	// RRSIG never expires in a resolver (RFC 6781 section 4.4.2).
	Refresh time.Duration
	// Inception is how far in the past the signature's inception is set,
	// for validators whose clocks run behind (default 1 hour).
	Inception time.Duration
	// Jitter: a random amount in [0, Jitter) is subtracted from each
	// expiration so that signatures made together do not all expire,
	// and are re-signed, together (RFC 6781 section 4.4.2.2). Default
	// 1 day; negative disables.
	Jitter time.Duration
	// CacheEntries bounds the signature cache (default 100000 RRsets).
	CacheEntries int
	// DNSKEYTTL is the TTL of the DNSKEY, CDS and CDNSKEY RRsets
	// (default 3600).
	DNSKEYTTL uint32
	// Now is the clock, for tests (default time.Now).
	Now func() time.Time
}

// The defaults of Options: Validity, Refresh and Jitter are exported for
// callers that derive one option from the others.
const (
	DefaultValidity = 14 * 24 * time.Hour
	DefaultRefresh  = 7 * 24 * time.Hour
	DefaultJitter   = 24 * time.Hour
)

const (
	defaultValidity  = DefaultValidity
	defaultRefresh   = DefaultRefresh
	defaultInception = time.Hour
	defaultJitter    = DefaultJitter
	defaultEntries   = 100000
	defaultDNSKEYTTL = 3600
)

func (o *Options) setDefaults() error {
	if o.Validity == 0 {
		o.Validity = defaultValidity
	}
	if o.Refresh == 0 {
		o.Refresh = defaultRefresh
	}
	if o.Inception == 0 {
		o.Inception = defaultInception
	}
	if o.Jitter == 0 {
		o.Jitter = defaultJitter
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = defaultEntries
	}
	if o.DNSKEYTTL == 0 {
		o.DNSKEYTTL = defaultDNSKEYTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Validity < 0 || o.Refresh < 0 || o.Inception < 0 || o.CacheEntries < 0:
		return errors.New("dnssec: negative option")
	case o.Refresh+o.Jitter >= o.Validity:
		// Otherwise a fresh signature would already be due for refresh
		// and every query would sign.
		return fmt.Errorf("dnssec: Refresh (%v) + Jitter (%v) must be less than Validity (%v)", o.Refresh, o.Jitter, o.Validity)
	}
	return nil
}

// Signer signs the RRsets of one zone online. It is safe for concurrent
// use.
type Signer struct {
	zone       string // canonical (lower case, fully qualified)
	opts       Options
	zoneKeys   []*Key // sign everything but DNSKEY/CDS/CDNSKEY
	keyKeys    []*Key // sign DNSKEY/CDS/CDNSKEY (RFC 4035 section 2.1, RFC 7344 section 4.1)
	dnskeys    []dns.RR
	cds        []dns.RR
	cdnskey    []dns.RR
	cache      *sigCache
	scratchers sync.Pool
}

// NewSigner checks keys and options for zone. Keys with the SEP flag
// (257) sign the DNSKEY, CDS and CDNSKEY RRsets; keys without it (256)
// sign everything else; with no active ZSK the active KSKs sign everything
// (a CSK). Every algorithm in the DNSKEY RRset must have an active signing
// key for both roles (RFC 4035 section 2.2; RFC 6840 section 5.11 lets a
// validator rely on that).
func NewSigner(zone string, keys []*Key, opts Options) (*Signer, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	zone = dns.CanonicalName(zone)
	s := &Signer{zone: zone, opts: opts}
	var zsks, ksks []*Key
	algs := map[uint8]bool{}
	for i, k := range keys {
		if k == nil || k.DNSKEY == nil || k.Signer == nil {
			return nil, fmt.Errorf("dnssec: key %d is incomplete", i)
		}
		if dns.CanonicalName(k.DNSKEY.Hdr.Name) != zone {
			return nil, fmt.Errorf("dnssec: key %v is not for zone %s", k, zone)
		}
		if !allowedAlgorithm(k.DNSKEY.Algorithm) {
			return nil, fmt.Errorf("dnssec: key %v: %w", k, ErrAlgorithm)
		}
		if k.Tag != k.DNSKEY.KeyTag() {
			return nil, fmt.Errorf("dnssec: key %v: tag does not match its DNSKEY", k)
		}
		algs[k.DNSKEY.Algorithm] = true
		dk := *k.DNSKEY
		dk.Hdr.Ttl = opts.DNSKEYTTL
		dk.Hdr.Name = zone
		s.dnskeys = append(s.dnskeys, &dk)
		if k.Standby {
			continue
		}
		if k.IsKSK() {
			ksks = append(ksks, k)
			c := CDS(k)
			c.Hdr.Ttl, c.Hdr.Name = opts.DNSKEYTTL, zone
			s.cds = append(s.cds, c)
			cd := CDNSKEY(k)
			cd.Hdr.Ttl, cd.Hdr.Name = opts.DNSKEYTTL, zone
			s.cdnskey = append(s.cdnskey, cd)
		} else {
			zsks = append(zsks, k)
		}
	}
	if len(ksks) == 0 {
		return nil, fmt.Errorf("dnssec: zone %s has no active KSK or CSK (flags 257)", zone)
	}
	s.keyKeys = ksks
	s.zoneKeys = zsks
	if len(zsks) == 0 {
		s.zoneKeys = ksks // CSK
	}
	for _, alg := range slices.Sorted(maps.Keys(algs)) { // the same error every time
		if !hasAlg(s.zoneKeys, alg) || !hasAlg(s.keyKeys, alg) {
			return nil, fmt.Errorf("dnssec: zone %s: algorithm %d is published but has no active key for every role (RFC 4035 section 2.2)", zone, alg)
		}
	}
	s.cache = newSigCache(opts.CacheEntries)
	s.scratchers.New = func() any { return new(scratch) }
	return s, nil
}

func hasAlg(keys []*Key, alg uint8) bool {
	for _, k := range keys {
		if k.DNSKEY.Algorithm == alg {
			return true
		}
	}
	return false
}

// Zone is the signer's zone, canonical.
func (s *Signer) Zone() string { return s.zone }

// Sign returns the RRSIGs for rrset: one per active zone-signing key, or
// per KSK for the apex DNSKEY, CDS and CDNSKEY RRsets. All records must
// share owner (case-insensitively), type, class and TTL (RFC 2181 section
// 5.2) and the owner must be in the zone. Signatures are cached by the
// RRset's canonical content (RFC 4034 section 6), so an equal RRset in
// another order or case gets the same RRSIGs without signing.
//
// The returned records are shared with the cache and other callers: do not
// modify them (dns.Copy first). Their owner name is the one the RRset had
// when it was signed, possibly in another case; validators compare names
// case-insensitively (RFC 4034 section 6.2).
func (s *Signer) Sign(rrset []dns.RR) ([]dns.RR, error) {
	return s.sign(rrset, "")
}

// SignWildcard signs an RRset synthesized from a wildcard (RFC 4592):
// rrset is owned by the query name, wildcard is the owner it was expanded
// from ("*.example.com."). The RRSIGs are those of the wildcard RRset, with
// the Labels field counting the wildcard's labels without the "*" (RFC 4034
// section 3.1.3), owned by the query name (RFC 4035 section 5.3.4). One
// cache entry serves all names the wildcard expands to. A validator then
// also needs an NSEC covering the query name, proving that it does not
// exist (RFC 4035 section 3.1.3.3); this package does not make that one
// (Deny's NSEC is owned by the name, so it claims the name exists). See
// the package documentation for why Sign on the expanded RRset is the
// simpler choice.
func (s *Signer) SignWildcard(rrset []dns.RR, wildcard string) ([]dns.RR, error) {
	if !strings.HasPrefix(wildcard, "*.") {
		return nil, fmt.Errorf("dnssec: wildcard owner %q must start with \"*.\"", wildcard)
	}
	if len(rrset) == 0 {
		return nil, errors.New("dnssec: empty RRset")
	}
	qname := rrset[0].Header().Name
	if !dns.IsSubDomain(wildcard[2:], qname) || dns.CountLabel(qname) < dns.CountLabel(wildcard) {
		return nil, fmt.Errorf("dnssec: %s is not an expansion of %s", qname, wildcard)
	}
	sigs, err := s.sign(rrset, wildcard)
	if err != nil {
		return nil, err
	}
	out := make([]dns.RR, len(sigs))
	for i, rr := range sigs {
		c := *rr.(*dns.RRSIG)
		c.Hdr.Name = qname
		out[i] = &c
	}
	return out, nil
}

func (s *Signer) sign(rrset []dns.RR, wildcard string) ([]dns.RR, error) {
	if len(rrset) == 0 {
		return nil, errors.New("dnssec: empty RRset")
	}
	h0 := rrset[0].Header()
	for _, rr := range rrset[1:] {
		h := rr.Header()
		if h.Rrtype != h0.Rrtype || h.Class != h0.Class || !strings.EqualFold(h.Name, h0.Name) {
			return nil, fmt.Errorf("dnssec: not one RRset: %s/%s and %s/%s", h0.Name, dns.TypeToString[h0.Rrtype], h.Name, dns.TypeToString[h.Rrtype])
		}
		if h.Ttl != h0.Ttl {
			return nil, fmt.Errorf("dnssec: RRset %s/%s has differing TTLs (RFC 2181 section 5.2)", h0.Name, dns.TypeToString[h0.Rrtype])
		}
	}
	switch h0.Rrtype {
	case dns.TypeRRSIG, dns.TypeOPT, dns.TypeNXNAME:
		// RRSIGs are not signed (RFC 4035 section 2.2); OPT and NXNAME are
		// meta types that never form an RRset.
		return nil, fmt.Errorf("dnssec: type %s is not signed", dns.TypeToString[h0.Rrtype])
	}
	owner := h0.Name
	if wildcard != "" {
		owner = wildcard
	}
	if !inZone(s.zone, owner) {
		return nil, fmt.Errorf("dnssec: %s is not in zone %s", owner, s.zone)
	}

	sc := s.scratchers.Get().(*scratch)
	key, err := sc.key(s.cache, rrset, owner)
	s.scratchers.Put(sc)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %s/%s: %v", h0.Name, dns.TypeToString[h0.Rrtype], err)
	}
	now := s.opts.Now()
	e := s.cache.get(key)
	if e != nil {
		if now.Unix() < e.refreshAt {
			return e.sigs, nil
		}
		// Past Refresh the signatures still have days to run: one caller
		// re-signs while the others keep serving them, so a popular RRset
		// is not signed by every concurrent query at once.
		if now.Unix() < e.expireAt-int64(s.opts.Inception/time.Second) && !e.refreshing.CompareAndSwap(false, true) {
			return e.sigs, nil
		}
	}
	sigs, err := s.signNew(rrset, h0, owner, wildcard, key, now)
	if err != nil && e != nil {
		e.refreshing.Store(false) // let the next caller try again
	}
	return sigs, err
}

// signNew signs rrset with every key of its role and caches the result.
func (s *Signer) signNew(rrset []dns.RR, h0 *dns.RR_Header, owner, wildcard string, key cacheKey, now time.Time) ([]dns.RR, error) {
	if wildcard != "" {
		// Signing the set under the wildcard owner gives exactly the
		// signature of the expansion: RFC 4034 section 6.2 item 4 puts
		// "*.<last Labels labels>" back as the owner for verification.
		ws := make([]dns.RR, len(rrset))
		for i, rr := range rrset {
			ws[i] = dns.Copy(rr)
			ws[i].Header().Name = wildcard
		}
		rrset = ws
	}
	keys := s.zoneKeys
	if owner == s.zone || strings.EqualFold(owner, s.zone) {
		switch h0.Rrtype {
		case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
			keys = s.keyKeys
		}
	}
	incep := now.Add(-s.opts.Inception)
	exp := now.Add(s.opts.Validity - s.jitter())
	sigs := make([]dns.RR, 0, len(keys))
	for _, k := range keys {
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Ttl: h0.Ttl}, // RFC 4034 section 3: the TTL of the covered RRset
			Algorithm:  k.DNSKEY.Algorithm,
			KeyTag:     k.Tag,
			SignerName: s.zone,
			// RFC 4034 section 3.1.5: 32-bit serial number arithmetic
			// (RFC 1982), so the truncation is intended.
			Inception:  uint32(incep.Unix()),
			Expiration: uint32(exp.Unix()),
		}
		if err := sig.Sign(k.Signer, rrset); err != nil {
			return nil, fmt.Errorf("dnssec: sign %s/%s with %v: %v", owner, dns.TypeToString[h0.Rrtype], k, err)
		}
		sigs = append(sigs, sig)
	}
	sigs = sigs[:len(sigs):len(sigs)] // an append by the caller copies
	wire, err := s.wireOf(sigs)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %s/%s: %v", owner, dns.TypeToString[h0.Rrtype], err)
	}
	s.cache.put(key, &entry{sigs: sigs, wire: wire, refreshAt: exp.Add(-s.opts.Refresh).Unix(), expireAt: exp.Unix()})
	return sigs, nil
}

// wireOf renders the RDATA of sigs, each after its 16-bit length.
func (s *Signer) wireOf(sigs []dns.RR) ([]byte, error) {
	sc := s.scratchers.Get().(*scratch)
	defer s.scratchers.Put(sc)
	var wire []byte
	for _, sig := range sigs {
		rd, err := sc.packRDATA(sig)
		if err != nil {
			return nil, fmt.Errorf("pack RRSIG: %v", err)
		}
		wire = append(be16(wire, uint16(len(rd))), rd...)
	}
	return wire, nil
}

// SignAddrs is Sign for the A or AAAA RRset of addrs at owner with ttl,
// for a server that writes answers without building records: it returns
// the RDATA of each RRSIG in wire form after its 16-bit length (RFC 4034
// section 3.1: the signer's name uncompressed), and their count. A hit
// does not allocate. The bytes are shared: do not modify them.
func (s *Signer) SignAddrs(owner string, qtype uint16, ttl uint32, addrs []netip.Addr) (wire []byte, n int, err error) {
	if qtype != dns.TypeA && qtype != dns.TypeAAAA || len(addrs) == 0 {
		return nil, 0, errors.New("dnssec: SignAddrs: want A or AAAA addresses")
	}
	key := keyAddrs(s.cache, owner, qtype, ttl, addrs)
	if e := s.cache.get(key); e != nil && s.opts.Now().Unix() < e.refreshAt {
		return e.wire, len(e.sigs), nil
	}
	// A miss, or due for refresh: Sign decides who re-signs.
	rrset := make([]dns.RR, len(addrs))
	for i, a := range addrs {
		hdr := dns.RR_Header{Name: owner, Rrtype: qtype, Class: dns.ClassINET, Ttl: ttl}
		if qtype == dns.TypeA {
			a4 := a.As4()
			rrset[i] = &dns.A{Hdr: hdr, A: net.IP(a4[:])}
		} else {
			a16 := a.As16()
			rrset[i] = &dns.AAAA{Hdr: hdr, AAAA: net.IP(a16[:])}
		}
	}
	sigs, err := s.Sign(rrset)
	if err != nil {
		return nil, 0, err
	}
	if e := s.cache.get(key); e != nil && &e.sigs[0] == &sigs[0] {
		return e.wire, len(e.sigs), nil
	}
	// Evicted already (a flood of new RRsets), or an old entry's
	// signatures while another caller re-signs: render these.
	wire, err = s.wireOf(sigs)
	return wire, len(sigs), err
}

func (s *Signer) jitter() time.Duration {
	if s.opts.Jitter <= 0 {
		return 0
	}
	// Not secret: math/rand is enough to spread expirations.
	return time.Duration(rand.Int64N(int64(s.opts.Jitter/time.Second)+1)) * time.Second
}

// DNSKEYRRset, CDSRRset and CDNSKEYRRset are the apex key RRsets without
// their signatures, for a server's zone data: the DNSKEY RRset holds every
// key, standby ones too; CDS and CDNSKEY the active KSKs' (RFC 7344:
// published, they ask the parent to make its DS RRset match). Sign signs
// them with the KSKs (RFC 4035 section 2.1, RFC 7344 section 4.1). The
// records are shared: do not modify them.
func (s *Signer) DNSKEYRRset() []dns.RR  { return s.dnskeys }
func (s *Signer) CDSRRset() []dns.RR     { return s.cds }
func (s *Signer) CDNSKEYRRset() []dns.RR { return s.cdnskey }

// be16 appends v big-endian.
func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// inZone reports whether name is zone or below it, case-insensitively.
// dns.IsSubDomain does the same but allocates (it splits both names),
// which would be the only allocation on the cache hit path.
func inZone(zone, name string) bool {
	if zone == "." {
		return true
	}
	if len(name) < len(zone) || !strings.EqualFold(name[len(name)-len(zone):], zone) {
		return false
	}
	if len(name) == len(zone) {
		return true
	}
	// The suffix must start a label: an unescaped dot before it.
	i := len(name) - len(zone) - 1
	if name[i] != '.' {
		return false
	}
	bs := 0
	for j := i - 1; j >= 0 && name[j] == '\\'; j-- {
		bs++
	}
	return bs%2 == 0
}
