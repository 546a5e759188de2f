package sites

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/meridian-gslb/meridian/gslb"
)

// Delta transfers.
//
// When the leader publishes version N+1 over N, it also keeps the delta
// from N to N+1 (gslb.EncodeDelta: services added, changed and removed by
// name, zones and sites wholesale when they changed), compressed. A node
// that holds N names it as its base in the transfer request (version and
// hash); a holder whose delta starts from exactly that base sends the
// delta, any other holder (or base) gets the whole state. The fetcher
// applies the delta to its held State, encodes the result and checks it
// against the announced size and SHA-256, exactly as a whole state is
// checked: a delta can never make a state other than the leader's. On
// any failure it fetches the whole state at once.
//
// Memory stays bounded: the leader keeps its current State's encoding
// (the base of the next delta) and one delta; a follower keeps the delta
// it received, so it can serve it on to the peers one version behind.

// errDelta: a delta was not usable (not our base, does not apply, or the
// result is not the announced state). The whole state is fetched instead.
var errDelta = errors.New("delta refused")

// heldDelta is the change from base to a held state, compressed.
type heldDelta struct {
	base announcement // version and SHA of the state it applies to
	gz   []byte
	size int64 // uncompressed bytes
}

// wireDelta says, in a transfer header, that a delta follows.
type wireDelta struct {
	Term uint64 `json:"t"`
	Gen  uint64 `json:"g"`
	SHA  string `json:"h"`
	Size int64  `json:"n"` // uncompressed bytes of the delta
}

func (d *heldDelta) wire() *wireDelta {
	return &wireDelta{Term: d.base.Version.Term, Gen: d.base.Version.Generation, SHA: hex.EncodeToString(d.base.SHA[:]), Size: d.size}
}

// serves reports whether d applies to the base a request names.
func (d *heldDelta) serves(req transferRequest) bool {
	return d != nil && req.BaseSHA != "" && req.BaseSHA == hex.EncodeToString(d.base.SHA[:]) &&
		req.BaseTerm == d.base.Version.Term && req.BaseGen == d.base.Version.Generation
}

// makeDelta is the leader's delta from prev to enc, nil when there is
// none worth serving (see gslb.EncodeDelta) or no previous state.
func makeDelta(prev *held, enc *gslb.Encoding) *heldDelta {
	if prev == nil || prev.enc == nil {
		return nil
	}
	raw, ok := gslb.EncodeDelta(prev.enc, enc)
	if !ok {
		return nil
	}
	gz, err := compress(raw)
	if err != nil {
		return nil
	}
	return &heldDelta{base: prev.ann, gz: gz, size: int64(len(raw))}
}

// withBase adds base, the state this node holds, to a request, so that
// a holder can answer with a delta.
func withBase(req transferRequest, base *held) transferRequest {
	if base != nil && base.st != nil {
		req.BaseTerm, req.BaseGen = base.ann.Version.Term, base.ann.Version.Generation
		req.BaseSHA = hex.EncodeToString(base.ann.SHA[:])
	}
	return req
}

// applyDelta makes want's state from base and a fetched delta, and checks
// it is exactly the announced one.
func (n *Node) applyDelta(base *held, want announcement, d *wireDelta, gz []byte) (*fetched, error) {
	if base == nil || base.st == nil || d.Term != base.ann.Version.Term || d.Gen != base.ann.Version.Generation ||
		d.SHA != hex.EncodeToString(base.ann.SHA[:]) {
		return nil, fmt.Errorf("%w: the holder sent a delta from another base", errDelta)
	}
	if d.Size <= 0 || d.Size > n.cfg.MaxStateBytes {
		return nil, fmt.Errorf("%w: %d bytes", errDelta, d.Size)
	}
	delta, err := decompress(gz, d.Size)
	if err != nil || int64(len(delta)) != d.Size {
		return nil, fmt.Errorf("%w: decompress: %v", errDelta, err)
	}
	st, err := gslb.ApplyDelta(base.st, delta)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errDelta, err)
	}
	raw := st.EncodeParts().Raw
	if sum := sha256.Sum256(raw); int64(len(raw)) != want.Size || sum != want.SHA {
		return nil, fmt.Errorf("%w: the result is not the announced state (sha256 or size differ)", errDelta)
	}
	// From here the bytes are the announced ones: refusing them is
	// refusing the published state, as for a whole transfer.
	if st.Version() != want.Version {
		return nil, fmt.Errorf("%w: announced as %s, the state says %s", errBadContent, want.Version, st.Version())
	}
	// base passed validation; only what changed is judged again.
	if err := st.ValidateChanged(base.st); err != nil {
		return nil, fmt.Errorf("%w: gslb: state %s: %v", errBadContent, st.Version(), err)
	}
	full, err := compress(raw)
	if err != nil {
		return nil, err
	}
	return &fetched{ann: want, gz: full, raw: raw, st: st,
		delta: &heldDelta{base: base.ann, gz: gz, size: d.Size}}, nil
}
