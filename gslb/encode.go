package gslb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The State's wire and file format.
//
// Format 3 (this build writes it) is format 2 with four fields more, a
// zone's dnssec, a site's bias, a member's capacity and a check's
// fast_interval, each at the end of its item;
// a format 2 state (a state file of the previous release) is still read,
// those fields unset. Deltas are read in this build's format only: a
// follower that cannot apply one asks for the whole state.
//
// Format 2 is a compact binary layout, the same
// for the state file, a gossip transfer and the parts of a delta
// (encode_delta.go):
//
//	"MRS" 3                     magic and format: the first bytes say it
//	term, generation            unsigned varints
//	zones                       count, then each zone
//	sites                       count, then each site
//	services                    count, then each service
//
// Numbers are varints (zigzag for signed ones), floats as gob writes them
// (a varint of the byte-reversed bits), booleans one byte 0 or 1, strings
// a length and the bytes, an address a family byte then 4 or 16 bytes, a
// list a count then its items (encode_binary.go has every field's order,
// encode_reader.go the checks that make hostile input an error rather
// than a panic or a large allocation). A member's site (and
// a topology rule's sites) is a reference to the State's own site list,
// so "us-east" costs its length once, not once per member; the other
// repeated strings (a shared check's fields, strategies, countries) are
// left to gzip on the wire and interned by the decoder, so a follower's
// State holds one copy of each. A service's bytes depend only on the
// service and the site list: a leader compares them to build a delta
// without a second encoder.
//
// docs/sites.md compares it with JSON, gob and CBOR: at 100k services it
// is 9.4 MB (JSON: 44.5 MB) and decodes in about 50 ms (JSON: 1.2 s). The
// encoding is deterministic: equal States give equal bytes, so a
// follower that applies a delta can check its result against the
// leader's announced hash.
//
// Format 1 was JSON in an envelope {"format":1,"state":{...}}, told
// apart by its first byte, '{'. DecodeState still reads it, for one
// release, so a state file written by the previous release is served at
// start: remove decodeJSON (and jsonEnvelope) in the release after the
// one that first writes format 2, when no site can hold a format 1 file.

// StateFormat is the version of the encoding written by Encode. Decode
// reads this version (and format 1, see above) and refuses others with a
// clear error, so sites running different releases never misread each
// other's state.
const StateFormat = 3

// stateMagic starts every format 2 encoding, followed by the format byte.
const stateMagic = "MRS"

// Version orders published States across leader restarts and leader
// changes: a new leader takes a higher Term, and Generation counts
// publications within a term. It never goes backwards.
type Version struct {
	Term       uint64 `json:"term"`
	Generation uint64 `json:"generation"`
}

// Newer reports whether v comes after o.
func (v Version) Newer(o Version) bool {
	if v.Term != o.Term {
		return v.Term > o.Term
	}
	return v.Generation > o.Generation
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Term, v.Generation) }

// Version returns the State's version.
func (st *State) Version() Version { return Version{Term: st.Term, Generation: st.Generation} }

// Encode writes the State in the versioned format used for the state file
// and gossip (format 2, above).
func (st *State) Encode() ([]byte, error) {
	return st.EncodeParts().Raw, nil
}

// DecodeState reads what Encode wrote (or a format 1 JSON state) and
// validates it: a state that does not validate is refused whole, so a
// bad publication never replaces a good one.
func DecodeState(b []byte) (*State, error) { return DecodeStateChanged(b, nil) }

// DecodeStateChanged is DecodeState for a state that follows prev, a
// State that passed validation (a follower's held state): only what
// differs from prev is judged again (ValidateChanged). A nil prev judges
// everything.
func DecodeStateChanged(b []byte, prev *State) (*State, error) {
	st, err := decodeState(b)
	if err != nil {
		return nil, err
	}
	if err := st.ValidateChanged(prev); err != nil {
		return nil, fmt.Errorf("gslb: decode state %s: %w", st.Version(), err)
	}
	return st, nil
}

// decodeState is DecodeState without the validation.
func decodeState(b []byte) (*State, error) {
	switch {
	case len(b) > 0 && b[0] == '{':
		return decodeJSON(b)
	case len(b) < len(stateMagic)+1 || string(b[:len(stateMagic)]) != stateMagic:
		return nil, errors.New("gslb: decode state: not a Meridian state (bad magic)")
	case b[len(stateMagic)] != StateFormat && b[len(stateMagic)] != 2:
		return nil, fmt.Errorf("gslb: decode state: format %d, this build reads formats 1 to %d", b[len(stateMagic)], StateFormat)
	}
	d := newDecoder(b[len(stateMagic)+1:], nil)
	d.format = b[len(stateMagic)]
	st := &State{Term: d.uvarint(), Generation: d.uvarint()}
	st.Zones = d.zones()
	st.Sites = d.sites()
	d.useSites(st.Sites)
	st.Services = d.services()
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("gslb: decode state: %w", err)
	}
	return st, nil
}

// jsonEnvelope is format 1: JSON inside an envelope naming the format.
type jsonEnvelope struct {
	Format int             `json:"format"`
	State  json.RawMessage `json:"state"`
}

// decodeJSON reads format 1. Unknown fields are errors: they mean a newer
// writer. Remove it with format 1 (see the top of this file).
func decodeJSON(b []byte) (*State, error) {
	var env jsonEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("gslb: decode state: %w", err)
	}
	if env.Format != 1 {
		return nil, fmt.Errorf("gslb: decode state: JSON format %d, this build reads formats 1 and %d", env.Format, StateFormat)
	}
	if len(env.State) == 0 {
		return nil, errors.New("gslb: decode state: no state in the envelope")
	}
	dec := json.NewDecoder(bytes.NewReader(env.State))
	dec.DisallowUnknownFields()
	var st State
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("gslb: decode state: %w", err)
	}
	return &st, nil
}
