package gslb

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// State deltas: the changes from one published State to the next, so a
// follower one version behind fetches kilobytes instead of the whole
// State. Format (format 2 values, encode_binary.go):
//
//	"MRD" 2                      magic and format
//	base term, generation        the State the delta applies to
//	term, generation             the State it makes
//	flags                        1: zones follow, 2: sites follow
//	[zones] [sites]              wholesale, as in a full encoding
//	removed                      count, then service names
//	upserts                      count, then each: its position in the
//	                             new services list, then the service
//
// Services not removed nor upserted keep their order. A delta carries no
// hash: the follower encodes the State it made and compares that with the
// announced hash, so a delta that does not make exactly the leader's
// State is never used (the follower fetches the whole State instead).

const deltaMagic = "MRD"

const (
	deltaZones byte = 1
	deltaSites byte = 2
)

// EncodeDelta returns the delta from base to next, both made by
// EncodeParts, and false when no delta is worth sending: names repeat,
// the sites were renamed or reordered (each service's bytes refer to
// sites by position), or the delta would be more than half of next's
// full encoding. It encodes nothing again: unchanged services are found
// by comparing their bytes, and changed ones are copied as they are.
func EncodeDelta(base, next *Encoding) ([]byte, bool) {
	// Services refer to sites by position: base's sites must keep
	// theirs. Sites added at the end, or moved on the map, are fine.
	if len(next.siteNames) < len(base.siteNames) || !slices.Equal(base.siteNames, next.siteNames[:len(base.siteNames)]) {
		return nil, false
	}
	sitesChanged := !bytes.Equal(base.bytes(base.sites), next.bytes(next.sites))
	inBase := nameIndex{parts: base.services}
	inNext := make([]bool, len(base.services))
	added := map[string]bool{}
	var upserts []int
	last := -1 // base position of the last service kept
	for i, p := range next.services {
		j, ok := inBase.find(p.name)
		switch {
		case !ok && added[p.name], ok && inNext[j]:
			return nil, false // a name twice in next
		case !ok:
			added[p.name] = true
		case j > last && bytes.Equal(base.bytes(base.services[j].span), next.bytes(p.span)):
			inNext[j], last = true, j
			continue // kept: unchanged, and in base's order
		default:
			inNext[j] = true // changed, or moved: sent again
		}
		upserts = append(upserts, i)
	}
	if inBase.repeats {
		return nil, false
	}

	w := &encoder{b: make([]byte, 0, 256+len(upserts)*100)}
	w.b = append(w.b, deltaMagic...)
	w.b = append(w.b, StateFormat)
	for _, v := range []uint64{base.version.Term, base.version.Generation, next.version.Term, next.version.Generation} {
		w.uvarint(v)
	}
	var flags byte
	zonesChanged := !bytes.Equal(base.bytes(base.zones), next.bytes(next.zones))
	if zonesChanged {
		flags |= deltaZones
	}
	if sitesChanged {
		flags |= deltaSites
	}
	w.b = append(w.b, flags)
	if zonesChanged {
		w.b = append(w.b, next.bytes(next.zones)...)
	}
	if sitesChanged {
		w.b = append(w.b, next.bytes(next.sites)...)
	}
	removed := 0
	for _, in := range inNext {
		if !in {
			removed++
		}
	}
	w.uvarint(uint64(removed))
	for j, in := range inNext {
		if !in {
			w.str(base.services[j].name)
		}
	}
	w.uvarint(uint64(len(upserts)))
	for _, i := range upserts {
		w.uvarint(uint64(i))
		w.b = append(w.b, next.bytes(next.services[i].span)...)
	}
	if len(w.b) > len(next.Raw)/2 {
		return nil, false
	}
	return w.b, true
}

// nameIndex finds base's services by name: first where the one found
// last was followed (services mostly keep their order, and a one-service
// edit needs no map), else by a map built on first need. A name repeated
// in base (a State that never validates) is seen when the map is built;
// if it never is, the follower's hash check refuses what it makes.
type nameIndex struct {
	parts   []servicePart
	byName  map[string]int
	next    int
	repeats bool
}

func (x *nameIndex) find(name string) (int, bool) {
	if x.next < len(x.parts) && x.parts[x.next].name == name {
		x.next++
		return x.next - 1, true
	}
	if x.byName == nil {
		x.byName = make(map[string]int, len(x.parts))
		for i, p := range x.parts {
			if _, dup := x.byName[p.name]; dup {
				x.repeats = true
			}
			x.byName[p.name] = i
		}
	}
	j, ok := x.byName[name]
	if ok {
		x.next = j + 1
	}
	return j, ok
}

// ApplyDelta returns the State that delta makes of base, which must be
// the delta's base version. Like decodeState it does not validate: the
// caller checks the result's hash and validates it (ValidateChanged,
// against base). base is not modified; the result shares its unchanged
// services, zones and sites.
func ApplyDelta(base *State, delta []byte) (*State, error) {
	st, err := applyDelta(base, delta)
	if err != nil {
		return nil, fmt.Errorf("gslb: apply delta: %w", err)
	}
	return st, nil
}

func applyDelta(base *State, delta []byte) (*State, error) {
	switch {
	case len(delta) < len(deltaMagic)+1 || string(delta[:len(deltaMagic)]) != deltaMagic:
		return nil, errors.New("not a Meridian state delta (bad magic)")
	case delta[len(deltaMagic)] != StateFormat:
		return nil, fmt.Errorf("format %d, this build reads format %d", delta[len(deltaMagic)], StateFormat)
	}
	d := newDecoder(delta[len(deltaMagic)+1:], nil)
	from := Version{Term: d.uvarint(), Generation: d.uvarint()}
	st := &State{Term: d.uvarint(), Generation: d.uvarint(), Zones: base.Zones, Sites: base.Sites}
	flags := d.take(1)
	if d.err != nil {
		return nil, d.end()
	}
	if from != base.Version() {
		return nil, fmt.Errorf("the delta applies to %s, not to %s", from, base.Version())
	}
	if flags[0]&^(deltaZones|deltaSites) != 0 {
		return nil, fmt.Errorf("unknown flags %#x", flags[0])
	}
	if flags[0]&deltaZones != 0 {
		st.Zones = d.zones()
	}
	if flags[0]&deltaSites != 0 {
		st.Sites = d.sites()
	}
	d.useSites(st.Sites)
	// dropped: the base's services that the new list does not keep as
	// they are (removed, or replaced by an upsert).
	removed := map[string]bool{}
	for range d.count(minString) {
		name := d.str()
		if removed[name] {
			d.fail("%q removed twice", name)
		}
		removed[name] = true
	}
	n := d.count(minService + 1)
	pos := make([]int, n)
	upserts := make([]Service, n)
	for i := range upserts {
		pos[i] = int(d.uvarint())
		if i > 0 && pos[i] <= pos[i-1] {
			d.fail("upsert positions out of order")
		}
		d.service(&upserts[i])
		d.at("upserts", i)
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	dropped := make(map[string]bool, len(removed)+n)
	for name := range removed {
		dropped[name] = true
	}
	for i := range upserts {
		dropped[upserts[i].Name] = true
	}
	kept, found := 0, 0
	for i := range base.Services {
		switch name := base.Services[i].Name; {
		case removed[name]:
			found++
		case !dropped[name]:
			kept++
		}
	}
	if found != len(removed) {
		return nil, errors.New("the delta removes services the base does not have")
	}
	total := kept + n
	if n > 0 && pos[n-1] >= total {
		return nil, fmt.Errorf("upsert position %d beyond the %d services", pos[n-1], total)
	}
	if total > 0 {
		st.Services = make([]Service, 0, total)
	}
	b, u := 0, 0
	for len(st.Services) < total {
		if u < n && pos[u] == len(st.Services) {
			st.Services = append(st.Services, upserts[u])
			u++
			continue
		}
		for dropped[base.Services[b].Name] {
			b++
		}
		st.Services = append(st.Services, base.Services[b])
		b++
	}
	return st, nil
}
