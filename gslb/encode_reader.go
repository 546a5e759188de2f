package gslb

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
)

// decoder reads format 2 values (encode_binary.go) from untrusted bytes.
// The first error sticks and every later read returns zero values, so a
// decoding function reads on and the caller checks once (end). Nothing is
// allocated for a count or a length before it is checked against the
// bytes left: hostile input costs at most a small multiple of its size.
type decoder struct {
	b   []byte
	p   int
	err error
	// where names the item being read, for the error ("services[12]").
	where string
	// format is the encoding's format: 2 lacks format 3's fields (a
	// zone's dnssec, a check's fast_interval), which read as unset.
	format byte

	siteNames []string          // site references resolve to these
	interned  map[string]string // one copy of each repeated string
	members   slab[Member]
	addresses slab[netip.Addr]
}

// newDecoder reads b. interned may hold strings to share with an earlier
// State (a delta's base); nil starts empty.
func newDecoder(b []byte, interned map[string]string) *decoder {
	if interned == nil {
		interned = map[string]string{}
	}
	return &decoder{b: b, interned: interned, format: StateFormat}
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("byte %d: %s", d.p, fmt.Sprintf(format, args...))
		d.p = len(d.b) // stop reading
	}
}

// at names item i of list as the place of an error found while reading it.
func (d *decoder) at(list string, i int) {
	if d.err != nil && d.where == "" {
		d.where = fmt.Sprintf("%s[%d]", list, i)
	}
}

// end reports the first error, or bytes left over.
func (d *decoder) end() error {
	if d.err == nil && d.p != len(d.b) {
		d.fail("%d bytes after the end", len(d.b)-d.p)
	}
	if d.err != nil && d.where != "" {
		return fmt.Errorf("%s: %w", d.where, d.err)
	}
	return d.err
}

func (d *decoder) left() int { return len(d.b) - d.p }

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b[d.p:])
	if n <= 0 {
		d.fail("truncated or overlong number")
		return 0
	}
	d.p += n
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b[d.p:])
	if n <= 0 {
		d.fail("truncated or overlong number")
		return 0
	}
	d.p += n
	return v
}

func (d *decoder) int() int { return int(d.varint()) }

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail("%d does not fit 32 bits", v)
	}
	return uint32(v)
}

func (d *decoder) u16() uint16 {
	v := d.uvarint()
	if v > math.MaxUint16 {
		d.fail("%d does not fit 16 bits", v)
	}
	return uint16(v)
}

func (d *decoder) float() float64 { return math.Float64frombits(bits.ReverseBytes64(d.uvarint())) }

func (d *decoder) bool() bool {
	b := d.take(1)
	if b == nil {
		return false
	}
	if b[0] > 1 {
		d.fail("boolean %d", b[0])
	}
	return b[0] == 1
}

// take returns the next n bytes, or nil (and an error) when fewer are left.
func (d *decoder) take(n int) []byte {
	if n > d.left() {
		d.fail("%d bytes claimed, %d left", n, d.left())
		return nil
	}
	b := d.b[d.p : d.p+n]
	d.p += n
	return b
}

// count reads a list's length: each item takes at least min bytes, so a
// count the bytes left cannot hold is an error, not an allocation.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if v > uint64(d.left()/min) {
		d.fail("%d items claimed, %d bytes left", v, d.left())
		return 0
	}
	return int(v)
}

func (d *decoder) strBytes() []byte {
	n := d.uvarint()
	if n > uint64(d.left()) {
		d.fail("string of %d bytes claimed, %d left", n, d.left())
		return nil
	}
	return d.take(int(n))
}

// str reads a string and interns it: repeated strings (a shared check's
// path, a hostname, a country) are held once.
func (d *decoder) str() string {
	b := d.strBytes()
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.interned[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	d.interned[s] = s
	return s
}

// uniqueStr reads a string that is known not to repeat.
func (d *decoder) uniqueStr() string { return string(d.strBytes()) }

func (d *decoder) strs() []string {
	n := d.count(minString)
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.str()
	}
	return l
}

func (d *decoder) addr() netip.Addr {
	switch b := d.take(1); {
	case b == nil:
		return netip.Addr{}
	case b[0] == addrNone:
		return netip.Addr{}
	case b[0] == addrV4:
		if v := d.take(4); v != nil {
			return netip.AddrFrom4([4]byte(v))
		}
	case b[0] == addrV6 || b[0] == addrV6Zone:
		v := d.take(16)
		if v == nil {
			return netip.Addr{}
		}
		a := netip.AddrFrom16([16]byte(v))
		if b[0] == addrV6Zone {
			zone := d.str()
			if zone == "" {
				d.fail("empty IPv6 zone")
			}
			a = a.WithZone(zone)
		}
		return a
	default:
		d.fail("address family %d", b[0])
	}
	return netip.Addr{}
}

func (d *decoder) addrs() []netip.Addr {
	n := d.count(minAddr)
	if n == 0 {
		return nil
	}
	l := d.addresses.take(n)
	for i := range l {
		l[i] = d.addr()
	}
	return l
}

// useSites makes sites the targets of site references.
func (d *decoder) useSites(sites []Site) {
	d.siteNames = make([]string, len(sites))
	for i, s := range sites {
		d.siteNames[i] = s.Name
	}
}

// site reads a site reference: the site's own name string, shared by
// every member there.
func (d *decoder) site() string {
	ref := d.uvarint()
	switch {
	case ref == 0:
		return d.str()
	case ref > uint64(len(d.siteNames)):
		d.fail("site reference %d, the state has %d sites", ref, len(d.siteNames))
		return ""
	default:
		return d.siteNames[ref-1]
	}
}

// slab hands out small slices cut from larger blocks: one allocation for
// hundreds of members or addresses instead of one each. Blocks grow from
// slabMin to slabMax items, so a small State costs little. Each slice's
// capacity is its length, so an append copies rather than overwrite a
// neighbour.
type slab[T any] struct {
	free []T
	next int // the size of the next block
}

const (
	slabMin = 16
	slabMax = 1024
)

func (s *slab[T]) take(n int) []T {
	if n > len(s.free) {
		s.next = min(max(s.next*2, slabMin), slabMax)
		if n > s.next/4 {
			return make([]T, n) // large: a block of its own
		}
		s.free = make([]T, s.next)
	}
	out := s.free[:n:n]
	s.free = s.free[n:]
	return out
}
