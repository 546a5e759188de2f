package dnsserver_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/dnsserver/dnssec"
	"github.com/meridian-gslb/meridian/dnsserver/dnstest"
	"github.com/meridian-gslb/meridian/gslb"
)

// signedZone is the demo state with its first zone signed by keys written
// to a temporary key directory.
type signedZone struct {
	st   *gslb.State
	dir  string
	keys map[uint16]*dns.DNSKEY // by tag
	ksk  uint16
	zsk  uint16 // 0 for a CSK
}

// newSignedZone signs dnstest.Demo's zone with a CSK (split false) or a
// KSK and a ZSK of algorithm alg.
func newSignedZone(t testing.TB, alg uint8, split bool) *signedZone {
	t.Helper()
	sz := &signedZone{st: dnstest.Demo(), dir: t.TempDir(), keys: map[uint16]*dns.DNSKEY{}}
	settings := &gslb.ZoneDNSSEC{}
	add := func(flags uint16) uint16 {
		k, err := dnssec.Generate(dnstest.Zone, alg, flags)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := dnssec.WriteFiles(sz.dir, k); err != nil {
			t.Fatal(err)
		}
		settings.Keys = append(settings.Keys, gslb.DNSSECKey{Name: dnssec.KeyName(k), DNSKEY: k.DNSKEY.String()})
		sz.keys[k.Tag] = k.DNSKEY
		return k.Tag
	}
	sz.ksk = add(dnssec.FlagsKSK)
	if split {
		sz.zsk = add(dnssec.FlagsZSK)
	}
	sz.st.Zones[0].DNSSEC = settings
	return sz
}

func (sz *signedZone) start(t *testing.T) (*dnsserver.Server, string) {
	t.Helper()
	return dnstest.StartServer(t, dnstest.Store(t, sz.st), func(c *dnsserver.Config) { c.DNSSECKeyDir = sz.dir })
}

func doQuery(name string, qtype uint16) *dns.Msg { return query(name, qtype, edns(1232, true)) }

// verified checks that every RRset of sec (but those in skip) is followed
// by RRSIGs, each verifying now with the zone's key wantTag, and returns
// the RRsets' "name type" strings.
func (sz *signedZone) verified(t *testing.T, what string, sec []dns.RR, wantTag uint16, skip ...uint16) []string {
	t.Helper()
	var sets []string
	for i := 0; i < len(sec); {
		h := sec[i].Header()
		j := i + 1
		for j < len(sec) && sec[j].Header().Rrtype == h.Rrtype && strings.EqualFold(sec[j].Header().Name, h.Name) {
			j++
		}
		rrset := sec[i:j]
		set := strings.ToLower(h.Name) + " " + dns.TypeToString[h.Rrtype]
		sets = append(sets, set)
		i = j
		if slices.Contains(skip, h.Rrtype) {
			continue
		}
		var sigs []*dns.RRSIG
		for i < len(sec) {
			sig, ok := sec[i].(*dns.RRSIG)
			if !ok || sig.TypeCovered != h.Rrtype || !strings.EqualFold(sig.Hdr.Name, h.Name) {
				break
			}
			sigs = append(sigs, sig)
			i++
		}
		if len(sigs) == 0 {
			t.Errorf("%s: %s has no RRSIG", what, set)
			continue
		}
		for _, sig := range sigs {
			if sig.KeyTag != wantTag {
				t.Errorf("%s: %s signed by key %d, want %d", what, set, sig.KeyTag, wantTag)
			}
			key := sz.keys[sig.KeyTag]
			if key == nil {
				t.Errorf("%s: %s: RRSIG by unknown key %d", what, set, sig.KeyTag)
				continue
			}
			if err := sig.Verify(key, rrset); err != nil || !sig.ValidityPeriod(time.Now()) {
				t.Errorf("%s: %s: RRSIG does not verify: %v", what, set, err)
			}
			if int(sig.Labels) != dns.CountLabel(h.Name) {
				t.Errorf("%s: %s: RRSIG labels %d, want %d", what, set, sig.Labels, dns.CountLabel(h.Name))
			}
		}
	}
	return sets
}

func nsecOf(t *testing.T, sec []dns.RR) *dns.NSEC {
	t.Helper()
	for _, rr := range sec {
		if n, ok := rr.(*dns.NSEC); ok {
			return n
		}
	}
	t.Fatalf("no NSEC in %v", sec)
	return nil
}

func typeNames(ts []uint16) string {
	var out []string
	for _, t := range ts {
		out = append(out, dns.TypeToString[t])
	}
	return strings.Join(out, " ")
}

// TestSignedAnswers checks each kind of answer to DO=1 queries for a zone
// signed with a KSK and a ZSK: every RRset signed by the right key, and
// negative answers as RFC 9824 writes them.
func TestSignedAnswers(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		t.Run(dns.AlgorithmToString[alg], func(t *testing.T) {
			sz := newSignedZone(t, alg, true)
			_, addr := sz.start(t)
			z := sz.zsk
			ask := func(name string, qtype uint16, opts ...func(*dns.Msg)) *dns.Msg {
				m := doQuery(name, qtype)
				for _, o := range opts {
					o(m)
				}
				r := exchange(t, "tcp", addr, m)
				if o := r.IsEdns0(); o == nil || !o.Do() {
					t.Fatalf("%s %s: response without DO", name, dns.TypeToString[qtype])
				}
				return r
			}

			// Positive answers: geo, static, CNAME chains, wildcards.
			r := ask("App.GSLB.example.", dns.TypeA)
			if got := sz.verified(t, "geo A", r.Answer, z); len(got) != 1 || len(r.Answer) != 2 {
				t.Errorf("geo A: answer %v", r.Answer)
			}
			r = ask("alias.gslb.example.", dns.TypeAAAA)
			if got := sz.verified(t, "CNAME chain", r.Answer, z); !slices.Equal(got, []string{"alias.gslb.example. CNAME", "docs.gslb.example. CNAME", "app.gslb.example. AAAA"}) {
				t.Errorf("CNAME chain: %v", got)
			}
			r = ask("multi.gslb.example.", dns.TypeA)
			sz.verified(t, "static A", r.Answer, z)
			r = ask("x.wild.gslb.example.", dns.TypeTXT)
			if got := sz.verified(t, "wildcard", r.Answer, z); !slices.Equal(got, []string{"x.wild.gslb.example. TXT"}) {
				t.Errorf("wildcard: %v", got)
			}
			// The apex key RRsets: signed by the KSK only.
			r = ask(dnstest.Zone, dns.TypeDNSKEY)
			if len(r.Answer) != 3 {
				t.Errorf("DNSKEY: want 2 keys and 1 RRSIG, got %v", r.Answer)
			}
			sz.verified(t, "DNSKEY", r.Answer, sz.ksk)
			r = ask(dnstest.Zone, dns.TypeCDS)
			sz.verified(t, "CDS", r.Answer, sz.ksk)
			if len(r.Answer) != 2 { // the KSK's CDS and its RRSIG
				t.Errorf("CDS: %v", r.Answer)
			}

			// NODATA: the bitmap lists what exists, never the type asked.
			r = ask("v4only.gslb.example.", dns.TypeAAAA)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
				t.Fatalf("NODATA: %v", r)
			}
			sz.verified(t, "NODATA", r.Ns, z)
			if n := nsecOf(t, r.Ns); typeNames(n.TypeBitMap) != "A RRSIG NSEC" || n.NextDomain != "\\000.v4only.gslb.example." {
				t.Errorf("NODATA NSEC: %v", n)
			}
			r = ask("app.gslb.example.", dns.TypeMX)
			if n := nsecOf(t, r.Ns); typeNames(n.TypeBitMap) != "A TXT AAAA RRSIG NSEC" {
				t.Errorf("NODATA at a service with a TXT: %v", n)
			}
			r = ask("c.gslb.example.", dns.TypeA) // an empty non-terminal
			if n := nsecOf(t, r.Ns); r.Rcode != dns.RcodeSuccess || typeNames(n.TypeBitMap) != "RRSIG NSEC" {
				t.Errorf("empty non-terminal: %v", r)
			}
			r = ask(dnstest.Zone, dns.TypeAAAA)
			if n := nsecOf(t, r.Ns); typeNames(n.TypeBitMap) != "NS SOA MX TXT RRSIG NSEC DNSKEY CDS CDNSKEY CAA" {
				t.Errorf("apex NODATA bitmap: %s", typeNames(n.TypeBitMap))
			}

			// A name that does not exist: NOERROR with NXNAME, or NXDOMAIN
			// to a client that sets CO (RFC 9824 sections 3.1 and 5).
			r = ask("nothere.gslb.example.", dns.TypeA)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
				t.Fatalf("nonexistent name: want NOERROR, got %v", r)
			}
			if got := sz.verified(t, "NXNAME", r.Ns, z); !slices.Equal(got, []string{"gslb.example. SOA", "nothere.gslb.example. NSEC"}) {
				t.Errorf("NXNAME authority: %v", got)
			}
			if n := nsecOf(t, r.Ns); typeNames(n.TypeBitMap) != "RRSIG NSEC NXNAME" {
				t.Errorf("NXNAME bitmap: %s", typeNames(n.TypeBitMap))
			}
			r = ask("nothere.gslb.example.", dns.TypeA, func(m *dns.Msg) { m.IsEdns0().SetCo() })
			if r.Rcode != dns.RcodeNameError || !r.IsEdns0().Co() {
				t.Errorf("nonexistent name with CO: want NXDOMAIN and CO, got %s co=%v", dns.RcodeToString[r.Rcode], r.IsEdns0().Co())
			}
			r = ask("dangling.gslb.example.", dns.TypeA) // a chain ending nowhere
			if got := sz.verified(t, "dangling", append(r.Answer, r.Ns...), z); !slices.Equal(got, []string{"dangling.gslb.example. CNAME", "gslb.example. SOA", "nothere.gslb.example. NSEC"}) {
				t.Errorf("dangling CNAME: %v", got)
			}

			// Delegation to an unsigned child: the NS set unsigned, an
			// NSEC at the cut proving there is no DS (RFC 4035 3.1.4.1).
			r = ask("www.sub.gslb.example.", dns.TypeA)
			if r.Authoritative || len(r.Answer) != 0 {
				t.Fatalf("referral: %v", r)
			}
			if got := sz.verified(t, "referral", r.Ns, z, dns.TypeNS); !slices.Equal(got, []string{"sub.gslb.example. NS", "sub.gslb.example. NSEC"}) {
				t.Errorf("referral authority: %v", got)
			}
			if n := nsecOf(t, r.Ns); typeNames(n.TypeBitMap) != "NS RRSIG NSEC" {
				t.Errorf("referral NSEC bitmap: %s", typeNames(n.TypeBitMap))
			}
			for _, rr := range r.Extra {
				if rr.Header().Rrtype == dns.TypeRRSIG {
					t.Errorf("glue is signed: %v", rr)
				}
			}
			r = ask("sub.gslb.example.", dns.TypeDS) // answered by the parent side
			if n := nsecOf(t, r.Ns); !r.Authoritative || typeNames(n.TypeBitMap) != "NS RRSIG NSEC" {
				t.Errorf("DS at an unsigned cut: %v", r)
			}
			r = ask("app.gslb.example.", dns.TypeNSEC)
			if got := sz.verified(t, "NSEC query", r.Answer, z); !slices.Equal(got, []string{"app.gslb.example. NSEC"}) {
				t.Errorf("NSEC query: %v", got)
			}

			// Without DO nothing changes; the fast path still answers.
			r = exchange(t, "udp", addr, query("app.gslb.example.", dns.TypeA, edns(1232, false)))
			for _, rr := range append(r.Answer, r.Ns...) {
				if rr.Header().Rrtype == dns.TypeRRSIG || rr.Header().Rrtype == dns.TypeNSEC {
					t.Errorf("DO=0: %v", rr)
				}
			}
			r = exchange(t, "udp", addr, query("nothere.gslb.example.", dns.TypeA, edns(1232, false)))
			if r.Rcode != dns.RcodeNameError {
				t.Errorf("DO=0 nonexistent name: %s", dns.RcodeToString[r.Rcode])
			}
		})
	}
}

// TestSignedDelegationDS passes a child's DS through, signed.
func TestSignedDelegationDS(t *testing.T) {
	sz := newSignedZone(t, dns.ED25519, false)
	sz.st.Zones[0].Records = append(sz.st.Zones[0].Records, "sub 3600 IN DS 12345 13 2 "+strings.Repeat("AB", 32))
	_, addr := sz.start(t)
	r := exchange(t, "udp", addr, doQuery("www.sub.gslb.example.", dns.TypeA))
	if got := sz.verified(t, "signed referral", r.Ns, sz.ksk, dns.TypeNS); !slices.Equal(got, []string{"sub.gslb.example. NS", "sub.gslb.example. DS"}) {
		t.Errorf("referral to a signed child: %v", got)
	}
	r = exchange(t, "udp", addr, doQuery("sub.gslb.example.", dns.TypeDS))
	if got := sz.verified(t, "DS", r.Answer, sz.ksk); !r.Authoritative || !slices.Equal(got, []string{"sub.gslb.example. DS"}) {
		t.Errorf("DS query: %v", r)
	}
}

// TestSignedProtocol: the DNSSEC parts of the wire rules.
func TestSignedProtocol(t *testing.T) {
	sz := newSignedZone(t, dns.ECDSAP256SHA256, false)
	sz.st.Zones[0].Records = append(sz.st.Zones[0].Records, "ttl 300 IN A 192.0.2.1", "ttl 60 IN A 192.0.2.2")
	_, addr := sz.start(t)
	// RFC 2181 section 5.2: records of one RRset with different TTLs are
	// served (and signed) with the lowest.
	r := exchange(t, "udp", addr, doQuery("ttl.gslb.example.", dns.TypeA))
	sz.verified(t, "mixed TTLs", r.Answer, sz.ksk)
	for _, rr := range r.Answer {
		if rr.Header().Ttl != 60 {
			t.Errorf("mixed TTLs: %v", rr)
		}
	}
	// RFC 9824 section 3.5: NXNAME is never a query type.
	r = exchange(t, "udp", addr, doQuery("app.gslb.example.", dns.TypeNXNAME))
	if r.Rcode != dns.RcodeFormatError || r.IsEdns0() == nil {
		t.Errorf("NXNAME query: want FORMERR with OPT, got %s", dns.RcodeToString[r.Rcode])
	}
	// A signed answer too big for the client's buffer: whole RRsets (the
	// signatures with them) go, and TC says so.
	r = exchange(t, "udp", addr, query("big.gslb.example.", dns.TypeTXT, edns(512, true)))
	if !r.Truncated {
		t.Errorf("big signed TXT in 512 bytes: not truncated (%d records)", len(r.Answer))
	}
	r = exchange(t, "tcp", addr, query("big.gslb.example.", dns.TypeTXT, edns(512, true)))
	if r.Truncated || len(r.Answer) != 25 {
		t.Errorf("big signed TXT over TCP: %d records, tc=%v", len(r.Answer), r.Truncated)
	}
	sz.verified(t, "big TXT", r.Answer, sz.ksk)
	// The unsigned zone of the same server stays unsigned.
	r = exchange(t, "udp", addr, doQuery("www.plain.example.", dns.TypeA))
	if len(r.Answer) != 1 {
		t.Errorf("unsigned zone with DO: %v", r.Answer)
	}
}

// TestSignerMissingKeys: a site without the private keys of a signed zone
// answers DO=1 queries SERVFAIL (a validator would reject unsigned ones
// anyway), still answers DO=0 ones, and says so in its log and metrics.
func TestSignerMissingKeys(t *testing.T) {
	sz := newSignedZone(t, dns.ECDSAP256SHA256, false)
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s, addr := dnstest.StartServer(t, dnstest.Store(t, sz.st), func(c *dnsserver.Config) {
		c.DNSSECKeyDir = t.TempDir() // empty
		c.Logger = log
	})
	r := exchange(t, "udp", addr, doQuery("app.gslb.example.", dns.TypeA))
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("DO=1 without keys: %s", dns.RcodeToString[r.Rcode])
	}
	r = exchange(t, "udp", addr, query("app.gslb.example.", dns.TypeA))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("DO=0 without keys: %v", r)
	}
	if !strings.Contains(logs.String(), "cannot sign") || !strings.Contains(logs.String(), "no such file") {
		t.Errorf("log: %s", logs.String())
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collector())
	want := `# HELP meridian_dns_dnssec_signing 1 for a signed zone this site signs, 0 for one it cannot (its keys did not load: see the log).
# TYPE meridian_dns_dnssec_signing gauge
meridian_dns_dnssec_signing{zone="gslb.example."} 0
`
	if err := testutil.GatherAndCompare(reg, bytes.NewBufferString(want), "meridian_dns_dnssec_signing"); err != nil {
		t.Error(err)
	}
	if n := counterValue(t, reg, "meridian_dns_dnssec_sign_failures_total"); n < 1 {
		t.Errorf("sign failures: %v", n)
	}
}

// TestSignerKeysArriveLate: a site whose key directory gets the keys after
// the zone was signed (a Secret mounted late) starts signing without a
// restart.
func TestSignerKeysArriveLate(t *testing.T) {
	sz := newSignedZone(t, dns.ECDSAP256SHA256, false)
	dir := t.TempDir()
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(), DNSSECKeyDir: dir}, dnstest.Store(t, sz.st))
	if err != nil {
		t.Fatal(err)
	}
	dnsserver.SetSignerRetry(s, 20*time.Millisecond)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	udp, _ := s.Addrs()
	addr := udp[0].String()
	if r := exchange(t, "udp", addr, doQuery("app.gslb.example.", dns.TypeA)); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("without keys: %s", dns.RcodeToString[r.Rcode])
	}
	entries, err := os.ReadDir(sz.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(sz.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := exchange(t, "udp", addr, doQuery("app.gslb.example.", dns.TypeA))
		if r.Rcode == dns.RcodeSuccess {
			sz.verified(t, "after the keys came", r.Answer, sz.ksk)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s 5 s after the keys came", dns.RcodeToString[r.Rcode])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counterValue is the value of the unlabelled counter name in reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestNewZoneSignerRefuses: a site's key must be the one the zone
// publishes.
func TestNewZoneSignerRefuses(t *testing.T) {
	sz := newSignedZone(t, dns.ECDSAP256SHA256, false)
	other := newSignedZone(t, dns.ECDSAP256SHA256, false)
	z := sz.st.Zones[0]
	z.DNSSEC = &gslb.ZoneDNSSEC{Keys: []gslb.DNSSECKey{{Name: sz.st.Zones[0].DNSSEC.Keys[0].Name, DNSKEY: other.st.Zones[0].DNSSEC.Keys[0].DNSKEY}}}
	if _, err := dnsserver.NewZoneSigner(&z, sz.dir); err == nil || !strings.Contains(err.Error(), "is not the key the zone publishes") {
		t.Errorf("mismatched key: %v", err)
	}
	z.DNSSEC = &gslb.ZoneDNSSEC{Keys: []gslb.DNSSECKey{{Name: "../etc/passwd", DNSKEY: "x"}}}
	if _, err := dnsserver.NewZoneSigner(&z, sz.dir); err == nil || !strings.Contains(err.Error(), "without directory") {
		t.Errorf("path as a key name: %v", err)
	}
	// A Kubernetes Secret cannot name a file with "+": "_" is found too.
	for _, ext := range []string{".key", ".private"} {
		name := sz.st.Zones[0].DNSSEC.Keys[0].Name
		if err := os.Rename(filepath.Join(sz.dir, name+ext), filepath.Join(sz.dir, strings.ReplaceAll(name, "+", "_")+ext)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dnsserver.NewZoneSigner(&sz.st.Zones[0], sz.dir); err != nil {
		t.Errorf("key files named with _ for +: %v", err)
	}
	if _, err := dnsserver.NewZoneSigner(&sz.st.Zones[0], ""); err == nil || !strings.Contains(err.Error(), "dns.dnssec_key_directory") {
		t.Errorf("no key directory: %v", err)
	}
}

// TestSignedFastPath: a signed service answer to DO=1 comes from the
// fast path without allocating (the RRSIGs' wire form is cached); the
// rest of a signed zone's DO=1 answers go to the general path.
func TestSignedFastPath(t *testing.T) {
	sz := newSignedZone(t, dns.ECDSAP256SHA256, false)
	s, err := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Logger: dnstest.Quiet(), DNSSECKeyDir: sz.dir}, dnstest.Store(t, sz.st))
	if err != nil {
		t.Fatal(err)
	}
	h := dnsserver.NewTestHandler(s)
	src := netip.MustParseAddr("127.0.0.1")
	co := func(m *dns.Msg) { m.IsEdns0().SetCo() }
	for _, tc := range []struct {
		q    *dns.Msg
		fast bool
	}{
		{query("app.gslb.example.", dns.TypeA, edns(1232, true, subnet("81.2.69.0/24"))), true},
		{query("APP.gslb.example.", dns.TypeAAAA, edns(1232, true)), true},
		{query("app.gslb.example.", dns.TypeA, edns(1232, false)), true},
		{query("app.gslb.example.", dns.TypeA, edns(1232, true), co), false},
		{query("v4only.gslb.example.", dns.TypeAAAA, edns(1232, true)), false}, // NODATA
		{query("mail.gslb.example.", dns.TypeA, edns(1232, true)), false},      // static
		{query("mail.gslb.example.", dns.TypeA, edns(1232, false)), true},
		{query("www.plain.example.", dns.TypeA, edns(1232, true)), true}, // unsigned zone
	} {
		b, _ := tc.q.Pack()
		if _, ok := h.Fast(b, src, false, 1); ok != tc.fast {
			t.Errorf("%s %s do=%v: fast=%v, want %v", tc.q.Question[0].Name, dns.Type(tc.q.Question[0].Qtype), tc.q.IsEdns0().Do(), ok, tc.fast)
		}
	}
	q, _ := query("app.gslb.example.", dns.TypeA, edns(1232, true, subnet("81.2.69.0/24"))).Pack()
	var r dns.Msg
	if err := r.Unpack(h.Serve(q, src, false)); err != nil {
		t.Fatal(err)
	}
	sz.verified(t, "fast signed answer", r.Answer, sz.ksk)
	if a := testing.AllocsPerRun(200, func() { h.Serve(q, src, false) }); a != 0 {
		t.Errorf("signed geo answer: %v allocs per query", a)
	}
}

// TestHostnameMemberCNAMEForEveryType: a client whose answer is a hostname
// member's CNAME gets it for every type (RFC 1034 section 3.6.2), signed,
// with the decision's ECS scope; a client given addresses gets the
// service's NODATA, whose signed bitmap lists A and AAAA, also scoped.
func TestHostnameMemberCNAMEForEveryType(t *testing.T) {
	sz := newSignedZone(t, dns.ED25519, false)
	_, addr := sz.start(t)
	// edge: us-east is a hostname member, eu-west has an address.
	us := edns(1232, true, subnet("8.8.8.0/24"))
	r := exchange(t, "udp", addr, query("edge.gslb.example.", dns.TypeTXT, us))
	if got := sz.verified(t, "TXT for a CNAME client", r.Answer, sz.ksk); !slices.Equal(got, []string{"edge.gslb.example. CNAME"}) || r.Rcode != dns.RcodeSuccess {
		t.Errorf("TXT at edge from the US: %v", r)
	}
	r = exchange(t, "udp", addr, query("edge.gslb.example.", dns.TypeCNAME, us))
	if len(r.Answer) != 2 || r.Answer[0].(*dns.CNAME).Target != "edge-lb.us-east.example.net." {
		t.Errorf("CNAME at edge from the US: %v", r.Answer)
	}
	if e := ecsOf(r); e == nil || e.SourceScope == 0 {
		t.Errorf("CNAME at edge: no ECS scope: %v", r.Extra)
	}
	r = exchange(t, "udp", addr, query("edge.gslb.example.", dns.TypeTXT, edns(1232, true, subnet("81.2.69.0/24"))))
	if len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("TXT at edge from Europe: want NODATA, got %v", r)
	}
	if n := nsecOf(t, r.Ns); typeNames(n.TypeBitMap) != "A AAAA RRSIG NSEC" {
		t.Errorf("NODATA bitmap: %s", typeNames(n.TypeBitMap))
	}
	if e := ecsOf(r); e == nil || e.SourceScope == 0 {
		t.Errorf("NODATA at edge: no ECS scope")
	}
}

func ecsOf(r *dns.Msg) *dns.EDNS0_SUBNET {
	if o := r.IsEdns0(); o != nil {
		for _, op := range o.Option {
			if e, ok := op.(*dns.EDNS0_SUBNET); ok {
				return e
			}
		}
	}
	return nil
}
