package gslb

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"time"

	"github.com/meridian-gslb/meridian/geo"
)

// Encoding is a State's format 2 encoding (encode.go) with the place of
// each part in it, which EncodeDelta compares with another Encoding's.
type Encoding struct {
	// Raw is the whole encoding, what Encode returns.
	Raw     []byte
	version Version
	zones   span // the zones list, count included
	sites   span // the sites list, count included
	// siteNames are what the services' site references point to.
	siteNames []string
	services  []servicePart
}

type span struct{ start, end int }

type servicePart struct {
	name string
	span
}

func (e *Encoding) bytes(s span) []byte { return e.Raw[s.start:s.end] }

// EncodeParts encodes st (format 3) and records where its parts are.
func (st *State) EncodeParts() *Encoding {
	w := &encoder{b: make([]byte, 0, 256+100*len(st.Services))} // about 95 bytes a service
	w.b = append(w.b, stateMagic...)
	w.b = append(w.b, StateFormat)
	w.uvarint(st.Term)
	w.uvarint(st.Generation)
	enc := &Encoding{version: st.Version(), services: make([]servicePart, len(st.Services))}
	start := len(w.b)
	w.zones(st.Zones)
	enc.zones = span{start, len(w.b)}
	start = len(w.b)
	w.sites(st.Sites)
	enc.sites = span{start, len(w.b)}
	w.useSites(st.Sites)
	enc.siteNames = w.siteNames
	w.uvarint(uint64(len(st.Services)))
	for i := range st.Services {
		start = len(w.b)
		w.service(&st.Services[i])
		enc.services[i] = servicePart{name: st.Services[i].Name, span: span{start, len(w.b)}}
	}
	enc.Raw = w.b
	return enc
}

// encoder appends format 3 values to b.
type encoder struct {
	b []byte
	// The State's site names, which site references point to; siteRefs
	// indexes them (index+1) when there are too many for a scan.
	siteNames []string
	siteRefs  map[string]uint64
}

// scanSites is the most sites looked up by a scan rather than a map: a
// few string comparisons beat hashing.
const scanSites = 8

func (w *encoder) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *encoder) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }

// float writes f as gob does: its bits byte-reversed, as a varint, so
// that round numbers (100, 39.5) take 1 to 3 bytes instead of 8.
func (w *encoder) float(f float64) { w.uvarint(bits.ReverseBytes64(math.Float64bits(f))) }

func (w *encoder) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *encoder) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *encoder) strs(l []string) {
	w.uvarint(uint64(len(l)))
	for _, s := range l {
		w.str(s)
	}
}

// The address families of an encoded netip.Addr.
const (
	addrNone   = 0 // the zero Addr
	addrV4     = 4
	addrV6     = 6
	addrV6Zone = 7 // followed by the zone
)

func (w *encoder) addr(a netip.Addr) {
	switch {
	case !a.IsValid():
		w.b = append(w.b, addrNone)
	case a.Is4():
		b := a.As4()
		w.b = append(append(w.b, addrV4), b[:]...)
	default:
		b := a.As16()
		if a.Zone() == "" {
			w.b = append(append(w.b, addrV6), b[:]...)
		} else {
			w.b = append(append(w.b, addrV6Zone), b[:]...)
			w.str(a.Zone())
		}
	}
}

func (w *encoder) addrs(l []netip.Addr) {
	w.uvarint(uint64(len(l)))
	for _, a := range l {
		w.addr(a)
	}
}

// useSites makes the sites the references of site names.
func (w *encoder) useSites(sites []Site) {
	w.siteNames = make([]string, len(sites))
	for i, s := range sites {
		w.siteNames[i] = s.Name
	}
	if len(sites) <= scanSites {
		return
	}
	w.siteRefs = make(map[string]uint64, len(sites))
	for i, s := range sites {
		if _, dup := w.siteRefs[s.Name]; !dup {
			w.siteRefs[s.Name] = uint64(i) + 1
		}
	}
}

// site writes a site name as its index+1 in the State's sites, or 0 and
// the name when it is not one of them (a State that will not validate,
// kept as it is).
func (w *encoder) site(name string) {
	if w.siteRefs != nil {
		if ref, ok := w.siteRefs[name]; ok {
			w.uvarint(ref)
			return
		}
	} else {
		for i, s := range w.siteNames {
			if s == name {
				w.uvarint(uint64(i) + 1)
				return
			}
		}
	}
	w.uvarint(0)
	w.str(name)
}

func (w *encoder) zones(zs []Zone) {
	w.uvarint(uint64(len(zs)))
	for i := range zs {
		z := &zs[i]
		w.str(z.Name)
		w.str(z.SOA.MName)
		w.str(z.SOA.RName)
		for _, v := range []uint32{z.SOA.Serial, z.SOA.Refresh, z.SOA.Retry, z.SOA.Expire, z.SOA.Minimum, z.SOA.TTL} {
			w.uvarint(uint64(v))
		}
		w.uvarint(uint64(len(z.NameServers)))
		for _, ns := range z.NameServers {
			w.str(ns.Name)
			w.addrs(ns.Addresses)
		}
		w.uvarint(uint64(z.NSTTL))
		w.strs(z.Records)
		w.str(z.ZoneFile)
		w.dnssec(z.DNSSEC)
	}
}

func (w *encoder) dnssec(d *ZoneDNSSEC) {
	if d == nil {
		w.bool(false)
		return
	}
	w.bool(true)
	w.uvarint(uint64(len(d.Keys)))
	for _, k := range d.Keys {
		w.str(k.Name)
		w.str(k.DNSKEY)
		w.bool(k.Publish)
	}
	w.varint(int64(d.SignatureValidity))
	w.varint(int64(d.SignatureRefresh))
	w.uvarint(uint64(d.DNSKEYTTL))
}

func (w *encoder) sites(ss []Site) {
	w.uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s.Name)
		w.float(s.Location.Lat)
		w.float(s.Location.Lon)
		w.bool(s.Location.HasCoords)
		w.str(s.Location.Country)
		w.str(s.Location.Continent)
		w.varint(int64(s.Bias))
	}
}

func (w *encoder) service(s *Service) {
	w.str(s.Name)
	w.policy(&s.Policy)
	w.uvarint(uint64(len(s.Members)))
	for i := range s.Members {
		m := &s.Members[i]
		w.site(m.Site)
		w.addrs(m.Addresses)
		w.str(m.Hostname)
		w.uvarint(uint64(m.Weight))
		w.varint(int64(m.Priority))
		w.addr(m.ProbeAddress)
		w.uvarint(uint64(m.ProbePort))
		w.bool(m.Unready)
		w.uvarint(uint64(m.Capacity))
	}
	w.check(s.HealthCheck)
}

func (w *encoder) policy(p *Policy) {
	w.str(string(p.Strategy))
	w.uvarint(uint64(p.TTL))
	w.uvarint(uint64(p.DegradedTTL))
	w.varint(int64(p.MinUp))
	w.varint(int64(p.Answers))
	w.float(p.GeoTieKm)
	w.uvarint(uint64(p.LatencyTieMs))
	w.uvarint(uint64(len(p.Topology)))
	for _, r := range p.Topology {
		w.uvarint(uint64(len(r.CIDRs)))
		for _, c := range r.CIDRs {
			w.addr(c.Addr())
			w.varint(int64(c.Bits()))
		}
		w.strs(r.Countries)
		w.strs(r.Continents)
		w.uvarint(uint64(len(r.Sites)))
		for _, s := range r.Sites {
			w.site(s)
		}
	}
	w.mask(p.HashMask)
	w.bool(p.Persistence.Enabled)
	w.mask(p.Persistence.Mask)
	w.str(string(p.Down.Type))
	w.addrs(p.Down.Addresses)
	l := &p.Load
	w.float(l.Low)
	w.float(l.High)
	w.float(l.HardLimit)
	w.varint(int64(l.MaxAge))
	w.varint(int64(l.StickyFor))
	w.str(l.Prometheus)
	w.str(l.MatchLabel)
	w.str(l.MatchOn)
	w.bool(l.SpareWeights)
}

func (w *encoder) mask(m Mask) {
	w.varint(int64(m.IPv4))
	w.varint(int64(m.IPv6))
}

func (w *encoder) check(h *HealthCheck) {
	if h == nil {
		w.bool(false)
		return
	}
	w.bool(true)
	w.str(h.Kind)
	w.uvarint(uint64(h.Port))
	w.varint(int64(h.Interval))
	w.varint(int64(h.Timeout))
	w.varint(int64(h.Rise))
	w.varint(int64(h.Fall))
	w.str(h.Jitter)
	w.str(h.Method)
	w.str(h.Path)
	w.str(h.Host)
	w.strs(h.ExpectStatus)
	w.str(h.BodyContains)
	w.str(h.SNI)
	w.bool(h.TLSSkipVerify)
	w.str(h.CAPEM)
	w.varint(int64(h.FastInterval))
	w.str(h.LoadFrom)
}

// The fewest bytes each item of a list takes, so that a count is checked
// against the bytes left before anything is allocated for it.
const (
	minZone       = 13 // 3 strings, 6 numbers, a list, a number, a list, a string
	minSite       = 6  // a string, 2 floats, a boolean, 2 strings
	minService    = 17 // a string, a policy (14), a list, a check flag
	minMember     = 8
	minRule       = 4
	minAddr       = 1
	minString     = 1
	minNameServer = 2
)

func (d *decoder) zones() []Zone {
	n := d.count(minZone)
	if n == 0 {
		return nil
	}
	zs := make([]Zone, n)
	for i := range zs {
		z := &zs[i]
		z.Name = d.str()
		z.SOA.MName = d.str()
		z.SOA.RName = d.str()
		for _, v := range []*uint32{&z.SOA.Serial, &z.SOA.Refresh, &z.SOA.Retry, &z.SOA.Expire, &z.SOA.Minimum, &z.SOA.TTL} {
			*v = d.u32()
		}
		if k := d.count(minNameServer); k > 0 {
			z.NameServers = make([]NameServer, k)
			for j := range z.NameServers {
				z.NameServers[j].Name = d.str()
				z.NameServers[j].Addresses = d.addrs()
			}
		}
		z.NSTTL = d.u32()
		z.Records = d.strs()
		z.ZoneFile = d.str()
		if d.format >= 3 {
			z.DNSSEC = d.dnssec()
		}
		d.at("zones", i)
	}
	return zs
}

// minKey is the fewest bytes of a DNSSEC key: 2 strings and a boolean.
const minKey = 3

func (d *decoder) dnssec() *ZoneDNSSEC {
	if !d.bool() {
		return nil
	}
	z := &ZoneDNSSEC{}
	if n := d.count(minKey); n > 0 {
		z.Keys = make([]DNSSECKey, n)
		for i := range z.Keys {
			z.Keys[i] = DNSSECKey{Name: d.str(), DNSKEY: d.str(), Publish: d.bool()}
		}
	}
	z.SignatureValidity = time.Duration(d.varint())
	z.SignatureRefresh = time.Duration(d.varint())
	z.DNSKEYTTL = d.u32()
	return z
}

func (d *decoder) sites() []Site {
	n := d.count(minSite)
	if n == 0 {
		return nil
	}
	ss := make([]Site, n)
	for i := range ss {
		ss[i] = Site{Name: d.str(), Location: geo.Location{
			Lat: d.float(), Lon: d.float(), HasCoords: d.bool(), Country: d.str(), Continent: d.str(),
		}}
		if d.format >= 3 {
			ss[i].Bias = d.int()
		}
		d.at("sites", i)
	}
	return ss
}

func (d *decoder) services() []Service {
	n := d.count(minService)
	if n == 0 {
		return nil
	}
	ss := make([]Service, n)
	for i := range ss {
		d.service(&ss[i])
		d.at("services", i)
	}
	return ss
}

func (d *decoder) service(s *Service) {
	// Service names are unique: interning them would only grow the map.
	s.Name = d.uniqueStr()
	d.policy(&s.Policy)
	if n := d.count(minMember); n > 0 {
		s.Members = d.members.take(n)
		for i := range s.Members {
			m := &s.Members[i]
			m.Site = d.site()
			m.Addresses = d.addrs()
			m.Hostname = d.str()
			m.Weight = d.u32()
			m.Priority = d.int()
			m.ProbeAddress = d.addr()
			m.ProbePort = d.u16()
			m.Unready = d.bool()
			if d.format >= 3 {
				m.Capacity = d.u16()
			}
		}
	}
	if d.bool() {
		h := &HealthCheck{Kind: d.str(), Port: d.u16(), Interval: time.Duration(d.varint()), Timeout: time.Duration(d.varint()),
			Rise: d.int(), Fall: d.int(), Jitter: d.str(), Method: d.str(), Path: d.str(), Host: d.str()}
		h.ExpectStatus = d.strs()
		h.BodyContains, h.SNI, h.TLSSkipVerify, h.CAPEM = d.str(), d.str(), d.bool(), d.str()
		if d.format >= 3 {
			h.FastInterval = time.Duration(d.varint())
			h.LoadFrom = d.str()
		}
		s.HealthCheck = h
	}
}

func (d *decoder) policy(p *Policy) {
	p.Strategy = Strategy(d.str())
	p.TTL, p.DegradedTTL = d.u32(), d.u32()
	p.MinUp, p.Answers = d.int(), d.int()
	p.GeoTieKm = d.float()
	if d.format >= 3 {
		p.LatencyTieMs = d.u32()
	}
	if n := d.count(minRule); n > 0 {
		p.Topology = make([]TopologyRule, n)
		for i := range p.Topology {
			r := &p.Topology[i]
			if k := d.count(minAddr + 1); k > 0 {
				r.CIDRs = make([]netip.Prefix, k)
				for j := range r.CIDRs {
					a := d.addr()
					r.CIDRs[j] = netip.PrefixFrom(a, d.int())
				}
			}
			r.Countries = d.strs()
			r.Continents = d.strs()
			if k := d.count(minString); k > 0 {
				r.Sites = make([]string, k)
				for j := range r.Sites {
					r.Sites[j] = d.site()
				}
			}
		}
	}
	p.HashMask = d.mask()
	p.Persistence.Enabled = d.bool()
	p.Persistence.Mask = d.mask()
	p.Down.Type = DownType(d.str())
	p.Down.Addresses = d.addrs()
	if d.format >= 3 {
		l := &p.Load
		l.Low, l.High, l.HardLimit = d.float(), d.float(), d.float()
		l.MaxAge, l.StickyFor = time.Duration(d.varint()), time.Duration(d.varint())
		l.Prometheus, l.MatchLabel, l.MatchOn = d.str(), d.str(), d.str()
		l.SpareWeights = d.bool()
	}
}

func (d *decoder) mask() Mask { return Mask{IPv4: d.int(), IPv6: d.int()} }
