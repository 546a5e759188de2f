package gslb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// StateFormat is the version of the encoding written by Encode. Decode
// reads this version and refuses others with a clear error, so sites
// running different releases never misread each other's state.
const StateFormat = 1

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

type envelope struct {
	Format int             `json:"format"`
	State  json.RawMessage `json:"state"`
}

// Encode writes the State in the versioned wire format used for the
// state file and gossip (JSON inside an envelope that names the format).
func (st *State) Encode() ([]byte, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("gslb: encode state: %w", err)
	}
	return json.Marshal(envelope{Format: StateFormat, State: body})
}

// DecodeState reads what Encode wrote and validates it: a state that does
// not validate is refused whole, so a bad publication never replaces a
// good one. Unknown fields are errors: they mean a newer writer.
func DecodeState(b []byte) (*State, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("gslb: decode state: %w", err)
	}
	if env.Format != StateFormat {
		return nil, fmt.Errorf("gslb: decode state: format %d, this build reads format %d", env.Format, StateFormat)
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
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("gslb: decode state %s: %w", st.Version(), err)
	}
	return &st, nil
}
