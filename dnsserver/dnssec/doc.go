// Package dnssec is Meridian's online DNSSEC signer: keys, the signature
// cache and compact denial of existence. Answers are computed per query
// (geo, health), so nothing is signed ahead of time: each RRset is signed
// when first answered and its RRSIGs are cached by content, so a geo
// answer is signed once per distinct RRset, not per query. Like the rest
// of the dnsserver tree it may import github.com/miekg/dns; it imports
// nothing else of Meridian.
//
// # Files
//
//	key.go     Key, Generate, WriteFiles/LoadFiles (BIND format), DS, CDS, CDNSKEY
//	signer.go  Options, Signer: Sign, SignWildcard, SignAddrs, the apex key RRsets
//	cache.go   the signature cache (a bounded sync.Map) and its canonical RRset key
//	deny.go    Successor and Deny: RFC 9824 compact denial of existence
//	served.go  CheckServed: what a server publishes, for `meridian dnssec status`
//
// # API
//
//	Generate(zone string, algorithm uint8, flags uint16) (*Key, error)
//	WriteFiles(dir string, k *Key) (pubPath, privPath string, err error)
//	LoadFiles(pubPath string) (*Key, error)
//	DS(k *Key) *dns.DS; CDS(k *Key) *dns.CDS; CDNSKEY(k *Key) *dns.CDNSKEY
//	NewSigner(zone string, keys []*Key, opts Options) (*Signer, error)
//	(*Signer).Sign(rrset []dns.RR) ([]dns.RR, error)
//	(*Signer).SignWildcard(rrset []dns.RR, wildcard string) ([]dns.RR, error)
//	(*Signer).SignAddrs(owner string, qtype uint16, ttl uint32, addrs []netip.Addr) (wire []byte, n int, err error)
//	CheckServed(ctx, server, zone string, keys []*Key) (*Served, error)  (served.go, for `meridian dnssec status`)
//	(*Signer).DNSKEYRRset() / CDSRRset() / CDNSKEYRRset() []dns.RR  (sign them with Sign)
//	(*Signer).Deny(qname string, types []uint16, nxname bool, ttl uint32) (*dns.NSEC, []dns.RR, error)
//	Successor(name string) (string, error)
//
// # Keys and algorithms
//
// Only ECDSAP256SHA256 (13) and ED25519 (15) are accepted (RFC 8624
// section 3.1): small signatures and fast signing, which online signing
// needs. A key with flags 257 (SEP) is a KSK and signs the apex DNSKEY,
// CDS and CDNSKEY RRsets (RFC 4035 section 2.1, RFC 7344 section 4.1);
// a key with flags 256 is a ZSK and signs everything else; with no active
// ZSK the KSK signs everything, which makes it a CSK. Every active signing
// key signs, so a double-signature rollover needs nothing more; a Key with
// Standby set is published in the DNSKEY RRset without signing, for the
// pre-publish ZSK and double-KSK rollovers (RFC 6781 section 4.1, timing in
// RFC 7583 section 3). Rollover is a new Signer with the new key list:
// the caller keeps the timeline (publish, wait for the DNSKEY TTL plus
// propagation, then activate; keep retired signatures' keys published until
// their RRSIGs have left caches, i.e. max TTL + Refresh margin). DS (SHA-256,
// RFC 8624 section 3.3) is what the parent publishes; CDS/CDNSKEY (RFC 7344)
// let a parent pick it up automatically.
//
// Key files are BIND's: K<zone>+<alg>+<tag>.key and .private (mode 0600),
// written with O_EXCL. LoadFiles proves the pair matches by signing and
// verifying (miekg's reader trusts the public half). Key's String, GoString
// and Format never print the private key; errors name files, never content.
//
// # Signing and the cache
//
// Sign validates the RRset (one owner, type, class and TTL, in the zone),
// computes a 128-bit keyed hash of its canonical form (RFC 4034 section 6:
// lower-case owner, type, class, TTL, and the RDATAs sorted, with the
// RDATA names of section 6.2 lower-cased for the common types) and returns
// the cached RRSIGs if they have more than Refresh left; otherwise it signs
// with inception now-Inception and expiration now+Validity-jitter, and
// caches. A hit is a lock-free sync.Map read and does not allocate (about
// 250 ns including the canonical hash, BenchmarkSignHit); a miss signs
// (40-70 µs: ED25519 a little faster than ECDSA P-256, BenchmarkSignMiss);
// the cache is bounded (CacheEntries) with random eviction. Each entry
// also keeps its RRSIGs' RDATA in wire form: SignAddrs, for a server's
// allocation-free path, hashes an A or AAAA RRset given as addresses on
// the stack (the same key as the records would give) and returns those
// bytes, about 200 ns a hit. Past Refresh
// one caller re-signs while concurrent callers keep getting the old, still
// valid signatures. Returned
// records are shared: the handler must not modify them (dns.Copy first,
// e.g. to change the TTL or owner case).
//
// The handler calls Sign for each RRset it puts in the answer or authority
// section of a response to a query with DO=1 (RFC 4035 section 3.1.1),
// never for the delegation NS RRset or glue (not authoritative, RFC 4035
// section 2.2), and serves the apex key RRsets (DNSKEYRRset, CDSRRset, CDNSKEYRRset) as
// zone data, signed like any other RRset.
// It must add the RRSIGs after the RRset; truncation must drop them with
// their RRset (RFC 4035 section 3.1.1). Sign RRsets exactly as served: the
// SOA of a negative answer with its negative TTL, so Original TTL matches.
//
// # Wildcards
//
// A validator checks the RRSIG Labels field against the owner to spot a
// wildcard expansion (RFC 4034 section 3.1.3, RFC 4035 section 5.3.4):
// SignWildcard signs the wildcard RRset once ("*.example.com.", Labels 2)
// and returns its RRSIGs owned by the query name. Such an answer also needs
// proof that the query name itself does not exist (RFC 4035 section
// 3.1.3.3), i.e. an NSEC covering it, which compact denial does not give
// for free. The simpler choice for an online signer, and the one we
// recommend, is to Sign the expanded RRset as if it existed at the query
// name (Labels = its label count): no proof is needed and validators cannot
// tell. Both cost one signature per distinct query name under a random
// subdomain flood; the cache bound and response rate limiting cap that.
//
// # Denial of existence: RFC 9824 (compact denial)
//
// Our reading of RFC 9824, for the handler. Only responses to DO=1
// queries change; DO=0 responses keep today's NXDOMAIN and NODATA.
//
//   - NODATA (the name exists, the type does not; also empty non-terminals
//     and names with only other types): RCODE NOERROR, empty answer,
//     authority = SOA, its RRSIGs, Deny(qname, typesAtName, false, negTTL)
//     and its RRSIGs. The bitmap lists the types present plus RRSIG and
//     NSEC; at the apex include SOA, NS and DNSKEY (and CDS/CDNSKEY when
//     published); at an unsigned delegation point it lists NS, proving no DS
//     (RFC 4035 section 3.1.4.1); the referral then carries that NSEC too.
//   - Nonexistent name (today's NXDOMAIN): RCODE NOERROR, authority = SOA,
//     its RRSIGs, Deny(qname, nil, true, negTTL) and its RRSIGs: the NSEC
//     "qname NSEC \000.qname RRSIG NSEC NXNAME" (RFC 9824 section 3.1).
//     The NSEC proves qname has no such type and the NXNAME bit tells a
//     validator the name does not exist. No wildcard proof is needed: the
//     NSEC claims the name exists, so no wildcard could have matched.
//   - CO flag (RFC 9824 section 5): if the query's OPT has DO and CO
//     (miekg: (*dns.OPT).Co()), the response sets CO in its OPT and, for a
//     nonexistent name, RCODE NXDOMAIN with the same NXNAME proof. Without
//     CO, NOERROR as above.
//   - An explicit query for type NXNAME (128) gets FORMERR, optionally with
//     EDE 30 Invalid Query Type (RFC 9824 section 3.5).
//   - negTTL is min(SOA TTL, SOA MINIMUM), as for the SOA in negative
//     answers (RFC 2308 section 5, RFC 9077 section 3).
//   - Queries for NSEC at a name may be answered with Deny's NSEC.
//
// Deny's signatures are cached per qname and bitmap like any RRset. Names
// too long to have the "\000." successor (ErrNameTooLong) are rare; the
// handler can answer them with SERVFAIL or unsigned.
package dnssec
