package dnssec

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func mustSigner(t testing.TB, zone string, keys []*Key, o Options) *Signer {
	t.Helper()
	s, err := NewSigner(zone, keys, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func aSet(owner string, ttl uint32, ips ...string) []dns.RR {
	var rrs []dns.RR
	for _, ip := range ips {
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN A %s", owner, ttl, ip))
		if err != nil {
			panic(err)
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

// verifyAll checks that sigs hold exactly one valid RRSIG per key in keys.
func verifyAll(t testing.TB, sigs, rrset []dns.RR, keys ...*Key) {
	t.Helper()
	if len(sigs) != len(keys) {
		t.Fatalf("%d signatures, want %d", len(sigs), len(keys))
	}
	for i, k := range keys {
		sig := sigs[i].(*dns.RRSIG)
		if sig.KeyTag != k.Tag {
			t.Fatalf("signature %d by key %d, want %d", i, sig.KeyTag, k.Tag)
		}
		if err := sig.Verify(k.DNSKEY, rrset); err != nil {
			t.Fatalf("signature by %v does not verify: %v", k, err)
		}
	}
}

type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time         { return time.Unix(c.now.Load(), 0) }
func (c *clock) Add(d time.Duration)    { c.now.Add(int64(d / time.Second)) }
func newClock(t time.Time) *clock       { c := &clock{}; c.now.Store(t.Unix()); return c }
func (c *clock) opts(o Options) Options { o.Now = c.Now; return o }

func TestSignVerifiesAndWindow(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		ksk := mustGenerate(t, "example.com.", alg, FlagsKSK)
		zsk := mustGenerate(t, "example.com.", alg, FlagsZSK)
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		c := newClock(start)
		s := mustSigner(t, "example.com.", []*Key{ksk, zsk}, c.opts(Options{}))
		sets := [][]dns.RR{
			aSet("www.example.com.", 60, "192.0.2.1", "192.0.2.2"),
			{mustRR(t, "Mixed.Example.com. 300 IN CNAME Target.Example.NET.")},
			{mustRR(t, "example.com. 300 IN MX 10 Mail.example.com."), mustRR(t, "example.com. 300 IN MX 20 mx2.example.com.")},
			{mustRR(t, `txt.example.com. 300 IN TXT "hello" "world"`)},
			{mustRR(t, "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300")},
		}
		for _, rrset := range sets {
			sigs, err := s.Sign(rrset)
			if err != nil {
				t.Fatal(err)
			}
			verifyAll(t, sigs, rrset, zsk) // ZSK only: a KSK exists but data is the ZSK's
			sig := sigs[0].(*dns.RRSIG)
			h := rrset[0].Header()
			if sig.Hdr.Ttl != h.Ttl || sig.OrigTtl != h.Ttl || sig.TypeCovered != h.Rrtype || sig.SignerName != "example.com." || int(sig.Labels) != dns.CountLabel(h.Name) {
				t.Errorf("RRSIG fields: %v", sig)
			}
			incep := time.Unix(int64(sig.Inception), 0)
			exp := time.Unix(int64(sig.Expiration), 0)
			if !incep.Equal(start.Add(-time.Hour)) {
				t.Errorf("inception %v, want %v", incep, start.Add(-time.Hour))
			}
			if exp.After(start.Add(14*24*time.Hour)) || exp.Before(start.Add(13*24*time.Hour)) {
				t.Errorf("expiration %v not in 14 days minus up to 1 day jitter", exp)
			}
			if !sig.ValidityPeriod(start) {
				t.Error("not valid now")
			}
		}
	}
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestSignCacheOrderCaseAndRefresh(t *testing.T) {
	csk := mustGenerate(t, "example.com.", dns.ED25519, FlagsKSK)
	c := newClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := mustSigner(t, "example.com.", []*Key{csk}, c.opts(Options{}))
	a := aSet("www.example.com.", 60, "192.0.2.1", "192.0.2.2", "192.0.2.3")
	b := aSet("WWW.Example.COM.", 60, "192.0.2.3", "192.0.2.1", "192.0.2.2")
	sa, err := s.Sign(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	if sa[0] != sb[0] {
		t.Error("equal RRset in another order and case was signed again")
	}
	verifyAll(t, sb, b, csk) // CSK signs data when there is no ZSK
	// CNAME target case is canonicalized too (RFC 4034 section 6.2).
	c1, _ := s.Sign([]dns.RR{mustRR(t, "x.example.com. 60 IN CNAME Foo.Example.NET.")})
	c2, _ := s.Sign([]dns.RR{mustRR(t, "x.example.com. 60 IN CNAME foo.example.net.")})
	if c1[0] != c2[0] {
		t.Error("CNAME differing in target case was signed again")
	}
	// Different content, TTL or type: different signatures.
	for _, other := range [][]dns.RR{
		aSet("www.example.com.", 60, "192.0.2.1", "192.0.2.2"),
		aSet("www.example.com.", 61, "192.0.2.1", "192.0.2.2", "192.0.2.3"),
		aSet("www2.example.com.", 60, "192.0.2.1", "192.0.2.2", "192.0.2.3"),
	} {
		so, err := s.Sign(other)
		if err != nil {
			t.Fatal(err)
		}
		if so[0] == sa[0] {
			t.Errorf("%v got the signature of %v", other, a)
		}
		verifyAll(t, so, other, csk)
	}
	// Within Refresh: still cached. Past it: re-signed, and valid then.
	exp := time.Unix(int64(sa[0].(*dns.RRSIG).Expiration), 0)
	c.now.Store(exp.Add(-7*24*time.Hour - time.Second).Unix())
	if s2, _ := s.Sign(a); s2[0] != sa[0] {
		t.Error("re-signed before Refresh")
	}
	c.now.Store(exp.Add(-7 * 24 * time.Hour).Unix())
	s3, err := s.Sign(a)
	if err != nil {
		t.Fatal(err)
	}
	if s3[0] == sa[0] {
		t.Fatal("not re-signed past Refresh")
	}
	if !s3[0].(*dns.RRSIG).ValidityPeriod(c.Now()) || s3[0].(*dns.RRSIG).Expiration <= sa[0].(*dns.RRSIG).Expiration {
		t.Error("re-signed RRSIG has a bad window")
	}
	verifyAll(t, s3, a, csk)
}

func TestSignRejects(t *testing.T) {
	csk := mustGenerate(t, "example.com.", dns.ED25519, FlagsKSK)
	s := mustSigner(t, "example.com.", []*Key{csk}, Options{})
	for name, rrset := range map[string][]dns.RR{
		"empty":       nil,
		"out of zone": aSet("www.example.net.", 60, "192.0.2.1"),
		"two owners":  append(aSet("a.example.com.", 60, "192.0.2.1"), aSet("b.example.com.", 60, "192.0.2.1")...),
		"two TTLs":    append(aSet("a.example.com.", 60, "192.0.2.1"), aSet("a.example.com.", 61, "192.0.2.2")...),
		"two types":   {mustRR(t, "a.example.com. 60 IN A 192.0.2.1"), mustRR(t, "a.example.com. 60 IN AAAA 2001:db8::1")},
	} {
		if _, err := s.Sign(rrset); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

func TestNewSignerChecks(t *testing.T) {
	ksk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	zsk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsZSK)
	ed := mustGenerate(t, "example.com.", dns.ED25519, FlagsZSK)
	other := mustGenerate(t, "example.net.", dns.ECDSAP256SHA256, FlagsKSK)
	standby := *ksk
	standby.Standby = true
	for name, tc := range map[string]struct {
		keys []*Key
		o    Options
	}{
		"no KSK":             {keys: []*Key{zsk}},
		"only standby KSK":   {keys: []*Key{&standby, zsk}},
		"other zone":         {keys: []*Key{other}},
		"alg without KSK":    {keys: []*Key{ksk, zsk, ed}},
		"refresh > validity": {keys: []*Key{ksk}, o: Options{Validity: time.Hour, Refresh: 2 * time.Hour}},
	} {
		if _, err := NewSigner("example.com.", tc.keys, tc.o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// apexSet is an apex key RRset with its signatures, as a server answers it.
func apexSet(s *Signer, rrset []dns.RR) (_, sigs []dns.RR, err error) {
	sigs, err = s.Sign(rrset)
	return rrset, sigs, err
}

func TestDNSKEYsSignedByKSK(t *testing.T) {
	ksk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	zsk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsZSK)
	next := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsZSK)
	next.Standby = true // pre-published successor (RFC 6781 section 4.1.1.1)
	s := mustSigner(t, "example.com.", []*Key{ksk, zsk, next}, Options{DNSKEYTTL: 7200})
	rrset, sigs, err := apexSet(s, s.DNSKEYRRset())
	if err != nil {
		t.Fatal(err)
	}
	if len(rrset) != 3 || rrset[0].Header().Ttl != 7200 {
		t.Fatalf("DNSKEY RRset %v", rrset)
	}
	verifyAll(t, sigs, rrset, ksk) // the KSK only
	// The standby key is published but signs nothing.
	data := aSet("www.example.com.", 60, "192.0.2.1")
	ds, _ := s.Sign(data)
	verifyAll(t, ds, data, zsk)

	// CSK: the only key signs both.
	csk := mustGenerate(t, "example.com.", dns.ED25519, FlagsKSK)
	s = mustSigner(t, "example.com.", []*Key{csk}, Options{})
	rrset, sigs, _ = apexSet(s, s.DNSKEYRRset())
	verifyAll(t, sigs, rrset, csk)

	// CDS/CDNSKEY for the KSK, signed by it (RFC 7344 section 4.1).
	s = mustSigner(t, "example.com.", []*Key{ksk, zsk}, Options{})
	cds, cdsSigs, err := apexSet(s, s.CDSRRset())
	if err != nil {
		t.Fatal(err)
	}
	if len(cds) != 1 || cds[0].(*dns.CDS).Digest != DS(ksk).Digest {
		t.Errorf("CDS %v", cds)
	}
	verifyAll(t, cdsSigs, cds, ksk)
	cdk, cdkSigs, err := apexSet(s, s.CDNSKEYRRset())
	if err != nil {
		t.Fatal(err)
	}
	verifyAll(t, cdkSigs, cdk, ksk)
}

func TestSignWildcard(t *testing.T) {
	zsk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsZSK)
	ksk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	s := mustSigner(t, "example.com.", []*Key{ksk, zsk}, Options{})
	a := aSet("a.b.example.com.", 60, "192.0.2.1")
	b := aSet("c.example.com.", 60, "192.0.2.1")
	sa, err := s.SignWildcard(a, "*.example.com.")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := s.SignWildcard(b, "*.example.com.")
	if err != nil {
		t.Fatal(err)
	}
	verifyAll(t, sa, a, zsk)
	verifyAll(t, sb, b, zsk)
	ra, rb := sa[0].(*dns.RRSIG), sb[0].(*dns.RRSIG)
	if ra.Labels != 2 || ra.Hdr.Name != "a.b.example.com." || ra.Signature != rb.Signature {
		t.Errorf("wildcard RRSIGs %v / %v", ra, rb)
	}
	if _, err := s.SignWildcard(a, "*.other.com."); err == nil {
		t.Error("expansion of a foreign wildcard signed")
	}
}

func TestSignConcurrent(t *testing.T) {
	csk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	c := newClock(time.Now())
	s := mustSigner(t, "example.com.", []*Key{csk}, c.opts(Options{CacheEntries: 64}))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				rrset := aSet(fmt.Sprintf("h%d.example.com.", i%100), 60, fmt.Sprintf("192.0.2.%d", (i+g)%3))
				sigs, err := s.Sign(rrset)
				if err == nil {
					err = sigs[0].(*dns.RRSIG).Verify(csk.DNSKEY, rrset)
				}
				if err != nil {
					errs <- err
					return
				}
				if i == 100 && g == 0 {
					c.Add(8 * 24 * time.Hour) // force re-signing mid-run
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.cache.len(); n > 64+8 {
		t.Errorf("cache holds %d entries, bound 64", n)
	}
}

func TestCacheBound(t *testing.T) {
	csk := mustGenerate(t, "example.com.", dns.ED25519, FlagsKSK)
	s := mustSigner(t, "example.com.", []*Key{csk}, Options{CacheEntries: 640})
	for i := range 5000 {
		if _, err := s.Sign(aSet(fmt.Sprintf("h%d.example.com.", i), 60, "192.0.2.1")); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.cache.len(); n > 640 || n < 320 {
		t.Errorf("cache holds %d entries, bound 640", n)
	}
	if strings.Contains(fmt.Sprint(s.opts), "PrivateKey") {
		t.Error("options print keys")
	}
}

func TestInZone(t *testing.T) {
	for _, tc := range []struct {
		zone, name string
		want       bool
	}{
		{"example.com.", "example.com.", true},
		{"example.com.", "WWW.Example.COM.", true},
		{"example.com.", "a.b.example.com.", true},
		{"example.com.", "badexample.com.", false},
		{"example.com.", `a\.example.com.`, false}, // one label "a.example", then com
		{"example.com.", `a\\.example.com.`, true}, // label "a\", then example.com
		{"example.com.", "com.", false},
		{".", "anything.", true},
	} {
		if got := inZone(tc.zone, tc.name); got != tc.want {
			t.Errorf("inZone(%q, %q) = %v", tc.zone, tc.name, got)
		}
		if got := dns.IsSubDomain(tc.zone, tc.name); got != tc.want {
			t.Errorf("test case disagrees with dns.IsSubDomain(%q, %q) = %v", tc.zone, tc.name, got)
		}
	}
}

func TestOptionsExactWindow(t *testing.T) {
	csk := mustGenerate(t, "example.com.", dns.ED25519, FlagsKSK)
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c := newClock(start)
	s := mustSigner(t, "example.com.", []*Key{csk}, c.opts(Options{Validity: 48 * time.Hour, Refresh: 24 * time.Hour, Inception: 5 * time.Minute, Jitter: -1}))
	rrset := aSet("www.example.com.", 60, "192.0.2.1")
	sigs, err := s.Sign(rrset)
	if err != nil {
		t.Fatal(err)
	}
	sig := sigs[0].(*dns.RRSIG)
	if got, want := time.Unix(int64(sig.Inception), 0), start.Add(-5*time.Minute); !got.Equal(want) {
		t.Errorf("inception %v, want %v", got, want)
	}
	if got, want := time.Unix(int64(sig.Expiration), 0), start.Add(48*time.Hour); !got.Equal(want) {
		t.Errorf("expiration %v, want %v (no jitter)", got, want)
	}
	if _, err := NewSigner("example.com.", []*Key{csk}, Options{Validity: 48 * time.Hour, Refresh: 24 * time.Hour, Jitter: 24 * time.Hour}); err == nil {
		t.Error("Refresh+Jitter = Validity accepted")
	}
}

// TestRefreshOneSigner: past Refresh, concurrent callers get either the old
// signatures or the one new set; the RRset is re-signed once, not per call.
func TestRefreshOneSigner(t *testing.T) {
	csk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	c := newClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := mustSigner(t, "example.com.", []*Key{csk}, c.opts(Options{}))
	rrset := aSet("www.example.com.", 60, "192.0.2.1")
	old, _ := s.Sign(rrset)
	c.Add(8 * 24 * time.Hour)
	var mu sync.Mutex
	seen := map[dns.RR]bool{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 50 {
				sigs, err := s.Sign(rrset)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[sigs[0]] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	delete(seen, old[0])
	if len(seen) != 1 {
		t.Errorf("%d new signatures past Refresh, want 1", len(seen))
	}
	for sig := range seen {
		if err := sig.(*dns.RRSIG).Verify(csk.DNSKEY, rrset); err != nil || !sig.(*dns.RRSIG).ValidityPeriod(c.Now()) {
			t.Errorf("new signature: %v", err)
		}
	}
}

// TestWireRoundTrip: a signed answer survives packing and unpacking (with
// name compression) and still verifies, as a resolver would see it.
func TestWireRoundTrip(t *testing.T) {
	ksk := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	zsk := mustGenerate(t, "example.com.", dns.ED25519, FlagsZSK)
	ksk2 := mustGenerate(t, "example.com.", dns.ED25519, FlagsKSK)
	zsk2 := mustGenerate(t, "example.com.", dns.ECDSAP256SHA256, FlagsZSK)
	// Two algorithms (an algorithm rollover's middle state): each RRset
	// carries a signature of each (RFC 4035 section 2.2).
	s := mustSigner(t, "example.com.", []*Key{ksk, zsk, ksk2, zsk2}, Options{})
	rrset := aSet("www.Example.com.", 60, "192.0.2.1", "192.0.2.7")
	sigs, err := s.Sign(rrset)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.Compress = true
	m.Answer = append(append(m.Answer, rrset...), sigs...)
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var r dns.Msg
	if err := r.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	got := r.Answer[:2]
	verifyAll(t, r.Answer[2:], got, zsk, zsk2)
	keys, ksigs, _ := apexSet(s, s.DNSKEYRRset())
	verifyAll(t, ksigs, keys, ksk, ksk2)
}

// SignAddrs and Sign share cache entries: an RRset given as records (any
// order, any case) and as addresses is signed once, and the wire form
// SignAddrs returns is the RRSIG Sign returns.
func TestSignAddrsSharesSign(t *testing.T) {
	k, err := Generate("example.com.", dns.ECDSAP256SHA256, FlagsKSK)
	if err != nil {
		t.Fatal(err)
	}
	s := mustSigner(t, "example.com.", []*Key{k}, Options{})
	for _, tc := range []struct {
		qtype uint16
		addrs []string
	}{
		{dns.TypeA, []string{"192.0.2.2", "192.0.2.1", "198.51.100.7"}},
		{dns.TypeAAAA, []string{"2001:db8::2", "2001:db8::1"}},
	} {
		var rrset []dns.RR
		var addrs []netip.Addr
		for _, a := range tc.addrs {
			rr, err := dns.NewRR(fmt.Sprintf("WWW.Example.com. 60 IN %s %s", dns.TypeToString[tc.qtype], a))
			if err != nil {
				t.Fatal(err)
			}
			rrset = append(rrset, rr)
			addrs = append(addrs, netip.MustParseAddr(a))
		}
		slices.Reverse(addrs)
		sigs, err := s.Sign(rrset)
		if err != nil {
			t.Fatal(err)
		}
		before := s.cache.len()
		wire, n, err := s.SignAddrs("www.example.com.", tc.qtype, 60, addrs)
		if err != nil || n != 1 {
			t.Fatalf("SignAddrs: %d, %v", n, err)
		}
		if s.cache.len() != before {
			t.Errorf("%s: SignAddrs signed again (a different cache key)", dns.TypeToString[tc.qtype])
		}
		want, err := s.wireOf(sigs)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(wire, want) {
			t.Errorf("%s: SignAddrs' wire is not Sign's RRSIG", dns.TypeToString[tc.qtype])
		}
		// A miss through SignAddrs verifies like any signature.
		wire, _, err = s.SignAddrs("new.example.com.", tc.qtype, 30, addrs)
		if err != nil {
			t.Fatal(err)
		}
		msg := append([]byte{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 'n', 'e', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
			0, byte(dns.TypeRRSIG), 0, 1, 0, 0, 0, 30}, wire...)
		var m dns.Msg
		if err := m.Unpack(msg); err != nil || len(m.Answer) != 1 {
			t.Fatalf("the wire form does not parse as an RRSIG: %v", err)
		}
		var set []dns.RR
		for _, a := range addrs {
			rr, _ := dns.NewRR(fmt.Sprintf("new.example.com. 30 IN %s %s", dns.TypeToString[tc.qtype], a))
			set = append(set, rr)
		}
		if err := m.Answer[0].(*dns.RRSIG).Verify(k.DNSKEY, set); err != nil {
			t.Errorf("%s: %v", dns.TypeToString[tc.qtype], err)
		}
	}
}
