// Package dnsserver is Meridian's authoritative DNS server: UDP and TCP
// listeners, EDNS and client subnet, truncation, zone apex, static records,
// negative answers, and the translation of gslb.Select's decision to wire
// format. It is the only package that imports github.com/miekg/dns
// (shared/design.md section 2).
//
// # Files
//
//	server.go    Config, New, Start, Shutdown, Addrs, Ready
//	udp.go       SO_REUSEPORT sockets and the batched UDP loop (udp_batch.go)
//	tcp.go       RFC 7766 connections
//	handler.go   one message in, one response out: the general path
//	fastpath.go  the allocation-free path for plain A/AAAA queries
//	lookup.go    the answer for a question, apart from the wire
//	view.go      a gslb.Snapshot compiled for queries
//	edns.go      OPT, ECS and NSID on the wire
//	zone.go      static records and zone files: CheckZone, LoadZoneFile
//	parsed.go    the one cache of parsed static records, by zone: parsed once per load
//	metrics.go   counters in atomics and their prometheus.Collector
//	sign.go      DNSSEC records for DO=1 answers of signed zones (package dnssec signs)
//	zonekeys.go  a zone's dnssec settings and this site's key files made a signer
//
// # Answers
//
// Names are matched to the longest zone suffix; a name in no zone is
// REFUSED without AA. A name that is a gslb service is answered for A and
// AAAA by gslb.Select; a hostname member becomes a CNAME, followed inside
// our own zones (RFC 1034 section 4.3.2) up to 8 links, stopping at loops,
// and a client given such a CNAME gets it for every type.
// Static records (any type miekg/dns parses, except SOA and apex NS, which
// come from the zone settings, and DNAME) are answered by exact name; a
// CNAME is followed the same way. NS below the apex is a delegation: a
// referral without AA, the NS set in authority and in-zone glue in
// additional, for the cut and every name below it (DS at the cut is
// answered from the parent side). Wildcards are supported as in RFC 4592
// ("*.<closest encloser>", not for service names). Every name that exists,
// including the empty non-terminals above static records and services,
// answers NODATA for types it lacks, never NXDOMAIN (RFC 8020). NODATA and
// NXDOMAIN carry the SOA with TTL min(SOA TTL, MINIMUM) (RFC 2308).
//
// ANY (RFC 8482 section 4.2) is answered with one RRset: at a service name
// its A answer (else AAAA answer), at a static name the RRset of the
// lowest type number (at the apex that is the NS set), NODATA at an empty
// non-terminal. No HINFO is synthesised.
//
// # Protocol edges
//
// QR=1 and messages shorter than a header are dropped. A message that
// does not parse is FORMERR with its ID, opcode, RD and CD, and the
// question when it has exactly one that parses. FORMERR responses to a
// bad message, two OPT records or a malformed ECS carry no OPT (a
// resolver that retries without EDNS then gets a normal answer); to a
// well-formed message with QDCOUNT != 1 they carry our OPT when the query
// had one (RFC 6891 section 6.1.1). Opcodes other than QUERY are NOTIMP,
// with RD and CD cleared; class other than IN and AXFR/IXFR are
// REFUSED. EDNS version > 0 is BADVERS with an OPT of version 0. The
// response OPT is built afresh: our payload size 1232, DO copied, ECS
// echoed with our scope, NSID when asked and configured; other options are
// not echoed. UDP responses are limited to 512 bytes without EDNS, else to
// the client's size clamped to [512, 1232]; what does not fit is dropped a
// whole RRset at a time, with TC=1 when answer or authority data (or
// referral glue) had to go.
//
// # DNSSEC
//
// A zone with dnssec settings (gslb.Zone.DNSSEC) is signed online by its
// signer (package dnssec), built from the site's key directory when the
// settings change. Responses to DO=1 queries carry the RRSIGs of every
// authoritative RRset (RFC 4035 section 3.1), the apex DNSKEY, CDS and
// CDNSKEY RRsets are zone data, negative answers use compact denial (RFC
// 9824: NOERROR with an NXNAME NSEC, NXDOMAIN with CO), and referrals
// carry the DS or the NSEC proving there is none. The fast path answers
// a service's A and AAAA with the RRSIGs' cached wire form; every other
// DO=1 answer of a signed zone goes through sign.go on the general path.
// A site without the zone's keys answers its DO=1 queries SERVFAIL.
//
// Listening on a wildcard address (0.0.0.0, ::) works, but replies leave
// from the address the kernel picks, which on a multi-homed host may not
// be the one the query was sent to: list the service addresses instead.
package dnsserver
