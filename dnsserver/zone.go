package dnsserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/gslb"
)

// Static zone data arrives as presentation-format strings (gslb keeps no
// DNS wire types, see shared/design.md section 2). This file is the one
// place that parses them, for the config check and for the server alike.

// CheckZone parses z.Records (and z.ZoneFile when set) exactly as the
// server will and reports the first problem. Errors read
// "records[j]: <reason>" or "zone_file <path> line N: <reason>"; the caller
// prefixes the zone's own path.
func CheckZone(z *gslb.Zone) error {
	if z.ZoneFile != "" {
		if _, err := readZoneFile(z); err != nil {
			return err
		}
	}
	if _, ok := parsedBefore(zoneName(z), z.Records); ok {
		return nil // LoadZoneFile parsed and checked them
	}
	rrs, err := parseRecords(z)
	if err == nil {
		rememberParsed(zoneName(z), z.Records, rrs)
	}
	return err
}

// LoadZoneFile reads z.ZoneFile (an RFC 1035 master file; $ORIGIN defaults
// to the zone name; $INCLUDE is refused) into z: the SOA when z.SOA.MName is
// empty, the apex NS set (with in-zone glue) when z.NameServers is empty,
// and every other record appended to z.Records in presentation format. The
// config loader calls it before gslb's Validate, so a zone may be defined by
// its file alone.
func LoadZoneFile(z *gslb.Zone) error {
	if z.ZoneFile == "" {
		return nil
	}
	zf, err := readZoneFile(z)
	if err != nil {
		return err
	}
	if z.SOA.MName == "" && zf.soa != nil {
		s := zf.soa
		z.SOA = gslb.SOA{
			MName: strings.ToLower(s.Ns), RName: strings.ToLower(s.Mbox), Serial: s.Serial,
			Refresh: s.Refresh, Retry: s.Retry, Expire: s.Expire, Minimum: s.Minttl, TTL: s.Hdr.Ttl,
		}
	}
	takeNS := len(z.NameServers) == 0
	if takeNS {
		for _, ns := range zf.apexNS {
			n := gslb.NameServer{Name: strings.ToLower(ns.Ns)}
			if gslb.InZone(n.Name, zoneName(z)) {
				n.Addresses = zf.glue(n.Name)
			}
			z.NameServers = append(z.NameServers, n)
			if z.NSTTL == 0 {
				z.NSTTL = ns.Hdr.Ttl
			}
		}
	}
	// The records written beside zone_file are parsed here too, so the
	// whole zone is parsed once (parsedBefore); when they do not parse,
	// CheckZone reports them.
	inline, inlineErr := parseRecords(z)
	recs := make([]string, 0, len(z.Records)+len(zf.rest))
	recs = append(recs, z.Records...)
	for _, rr := range zf.rest {
		recs = append(recs, rr.String())
	}
	z.Records = recs
	if inlineErr == nil {
		rrs := append(inline, zf.rest...)
		if checkCNAMEs(rrs, func(i int) string { return "" }) == nil {
			rememberParsed(zoneName(z), recs, rrs)
		}
	}
	return nil
}

// zoneFile is a master file split into what LoadZoneFile needs.
type zoneFile struct {
	soa    *dns.SOA
	apexNS []*dns.NS
	rest   []dns.RR // everything but the apex SOA and NS
}

// glue returns the addresses the file has for name.
func (zf *zoneFile) glue(name string) []netip.Addr {
	var out []netip.Addr
	for _, rr := range zf.rest {
		if rr.Header().Name != name {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

func zoneName(z *gslb.Zone) string { return gslb.CanonicalName(z.Name) }

func readZoneFile(z *gslb.Zone) (*zoneFile, error) {
	path := z.ZoneFile
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone_file %s: %w", path, err)
	}
	defer f.Close()
	return parseZoneFile(f, path, zoneName(z))
}

func parseZoneFile(r io.Reader, path, origin string) (*zoneFile, error) {
	lr := &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
	zp := dns.NewZoneParser(lr, origin, path)
	zp.SetIncludeAllowed(false) // RFC 1035 $INCLUDE: off, config names every file
	zf := &zoneFile{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		h.Name = strings.ToLower(h.Name)
		if err := checkRR(rr, origin); err != nil && !isApexSOAorNS(rr, origin) {
			return nil, fmt.Errorf("zone_file %s line %d: %v", path, lr.line(), err)
		}
		switch v := rr.(type) {
		case *dns.SOA:
			if h.Name == origin && zf.soa == nil {
				zf.soa = v
				continue
			}
			if h.Name == origin {
				return nil, fmt.Errorf("zone_file %s line %d: a second SOA record", path, lr.line())
			}
		case *dns.NS:
			if h.Name == origin {
				zf.apexNS = append(zf.apexNS, v)
				continue
			}
		}
		zf.rest = append(zf.rest, rr)
	}
	if err := zp.Err(); err != nil {
		line, reason := splitParseError(err)
		return nil, fmt.Errorf("zone_file %s line %d: %s", path, line, reason)
	}
	if err := checkCNAMEs(zf.rest, func(i int) string { return "zone_file " + path + ":" }); err != nil {
		return nil, err
	}
	return zf, nil
}

// lineReader counts the newlines the zone parser has consumed. miekg/dns
// does not say where a record was, but its lexer reads byte by byte through
// an io.ByteReader and hands a record over at the newline that ends it, so
// the count is the record's last line.
type lineReader struct {
	br    *bufio.Reader
	lines int
	eof   bool
}

func (l *lineReader) ReadByte() (byte, error) {
	b, err := l.br.ReadByte()
	if b == '\n' && err == nil {
		l.lines++
	}
	if err == io.EOF {
		l.eof = true
	}
	return b, err
}

func (l *lineReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := l.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}

// line is the line of the record just returned (1-based).
func (l *lineReader) line() int {
	if l.eof {
		return l.lines + 1
	}
	return l.lines
}

var parseErrRE = regexp.MustCompile(`^(?:.*?: )?dns: (.*): ("(?:[^"\\]|\\.)*") at line: (\d+):\d+$`)

// splitParseError turns a miekg/dns ParseError into (line, reason).
func splitParseError(err error) (int, string) {
	m := parseErrRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, err.Error()
	}
	line, _ := strconv.Atoi(m[3])
	tok, _ := strconv.Unquote(m[2])
	if tok == "" {
		return line, m[1]
	}
	return line, fmt.Sprintf("%s near %q", m[1], tok)
}

// parseRecords parses z.Records; each string is one record whose relative
// names are resolved against the zone name.
func parseRecords(z *gslb.Zone) ([]dns.RR, error) {
	origin := zoneName(z)
	rrs := make([]dns.RR, 0, len(z.Records))
	for j, s := range z.Records {
		rr, err := parseRecord(s, origin)
		if err != nil {
			return nil, fmt.Errorf("records[%d]: %v", j, err)
		}
		if err := checkRR(rr, origin); err != nil {
			return nil, fmt.Errorf("records[%d]: %v", j, err)
		}
		rrs = append(rrs, rr)
	}
	if err := checkCNAMEs(rrs, func(i int) string { return fmt.Sprintf("records[%d]:", i) }); err != nil {
		return nil, err
	}
	return rrs, nil
}

// parseRecord parses one record. A record without a TTL gets 3600, as in
// a master file without $TTL.
func parseRecord(s, origin string) (dns.RR, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return nil, errors.New("empty record")
	case t[0] == '$':
		return nil, errors.New("directives ($TTL, $ORIGIN, ...) are not allowed in records")
	case s[0] == ' ' || s[0] == '\t':
		return nil, errors.New("a record must start with its owner name (or @)")
	}
	zp := dns.NewZoneParser(strings.NewReader(s), origin, "")
	zp.SetIncludeAllowed(false)
	zp.SetDefaultTTL(3600)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		_, reason := splitParseError(err)
		return nil, errors.New(reason)
	}
	if !ok {
		return nil, errors.New("no record")
	}
	if _, more := zp.Next(); more {
		return nil, errors.New("more than one record in one string")
	}
	rr.Header().Name = strings.ToLower(rr.Header().Name)
	return rr, nil
}

// checkRR is what a static record must satisfy in zone origin.
func checkRR(rr dns.RR, origin string) error {
	h := rr.Header()
	switch {
	case !dns.IsSubDomain(origin, h.Name):
		return fmt.Errorf("owner %s is not inside zone %s", h.Name, origin)
	case h.Class != dns.ClassINET:
		return fmt.Errorf("class %s is not supported (only IN)", dns.Class(h.Class))
	case h.Rrtype == dns.TypeSOA:
		return errors.New("the SOA comes from the zone's soa settings")
	case h.Rrtype == dns.TypeNS && h.Name == origin:
		return errors.New("apex NS records come from the zone's nameservers")
	case h.Rrtype == dns.TypeOPT || h.Rrtype == dns.TypeTSIG || h.Rrtype == dns.TypeANY || h.Rrtype == dns.TypeAXFR || h.Rrtype == dns.TypeIXFR:
		return fmt.Errorf("type %s cannot be zone data", dns.Type(h.Rrtype))
	case h.Rrtype == dns.TypeDNAME:
		return errors.New("DNAME is not supported")
	}
	if h.Rrtype == dns.TypeCNAME && h.Name == origin {
		return errors.New("a CNAME cannot be at the zone apex (RFC 1034 section 3.6.2)")
	}
	return nil
}

func isApexSOAorNS(rr dns.RR, origin string) bool {
	h := rr.Header()
	return h.Name == origin && h.Class == dns.ClassINET && (h.Rrtype == dns.TypeSOA || h.Rrtype == dns.TypeNS)
}

// checkCNAMEs enforces RFC 1034 section 3.6.2 / RFC 2181 section 10.1: a
// name with a CNAME has no other data and only one CNAME.
func checkCNAMEs(rrs []dns.RR, where func(int) string) error {
	cname := map[string]int{}
	for i, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME {
			if j, dup := cname[rr.Header().Name]; dup {
				return fmt.Errorf("%s a second CNAME at %s (first is %d)", where(i), rr.Header().Name, j)
			}
			cname[rr.Header().Name] = i
		}
	}
	if len(cname) == 0 {
		return nil
	}
	for i, rr := range rrs {
		h := rr.Header()
		if _, ok := cname[h.Name]; ok && h.Rrtype != dns.TypeCNAME && h.Rrtype != dns.TypeRRSIG && h.Rrtype != dns.TypeNSEC {
			return fmt.Errorf("%s %s has a CNAME and other data (RFC 1034 section 3.6.2)", where(i), h.Name)
		}
	}
	return nil
}
