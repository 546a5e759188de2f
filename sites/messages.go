package sites

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/meridian-gslb/meridian/gslb"
)

// Gossip messages are one type byte followed by a JSON body, the shape
// serf uses (with msgpack there): the byte lets a later release add
// messages that older nodes skip, and JSON keeps the fields named.
const (
	msgAnnounce    byte = 1 // announcement: a state version exists
	msgObservation byte = 2 // one site's view of one health target

	pushPullV1 byte = 1 // LocalState: type byte, then gzip(JSON pushPull)
	metaV1     byte = 1 // NodeMeta: type byte, then JSON nodeMeta
)

// stateBroadcastName names the announcement in the gossip queue, so that
// queuing a new one drops the older one: only the newest is ever sent.
const stateBroadcastName = "state"

// announcement says that a state version exists and where to get it.
// Only the version, size and hash are trusted: the hash is checked
// against the bytes fetched, and it came over the keyed gossip.
type announcement struct {
	Version   gslb.Version
	Size      int64    // bytes of the encoded state
	SHA       [32]byte // SHA-256 of the encoded state
	Published time.Time
	Origin    string // the leader that published it
	Holder    string // a node that serves it
}

func (a announcement) empty() bool { return a.SHA == [32]byte{} }

// newer orders announcements: by version, and for two different states
// with the same version (two leaders that took the same term) by hash,
// so that every node settles on the same one.
func (a announcement) newer(b announcement) bool {
	if a.empty() {
		return false
	}
	if b.empty() {
		return true
	}
	if a.Version != b.Version {
		return a.Version.Newer(b.Version)
	}
	return bytes.Compare(a.SHA[:], b.SHA[:]) > 0
}

type wireAnn struct {
	Term      uint64 `json:"t"`
	Gen       uint64 `json:"g"`
	Size      int64  `json:"n"`
	SHA       string `json:"h"`
	Published int64  `json:"p,omitempty"` // Unix nanoseconds
	Origin    string `json:"o,omitempty"`
	Holder    string `json:"f,omitempty"`
}

func (a announcement) wire() *wireAnn {
	w := &wireAnn{
		Term: a.Version.Term, Gen: a.Version.Generation, Size: a.Size,
		SHA: hex.EncodeToString(a.SHA[:]), Origin: a.Origin, Holder: a.Holder,
	}
	if !a.Published.IsZero() {
		w.Published = a.Published.UnixNano()
	}
	return w
}

func (w *wireAnn) announcement() (announcement, error) {
	a := announcement{
		Version: gslb.Version{Term: w.Term, Generation: w.Gen},
		Size:    w.Size, Origin: w.Origin, Holder: w.Holder,
	}
	if w.Published != 0 {
		a.Published = time.Unix(0, w.Published)
	}
	h, err := hex.DecodeString(w.SHA)
	if err != nil || len(h) != len(a.SHA) {
		return a, fmt.Errorf("announcement: bad sha256 %q", w.SHA)
	}
	copy(a.SHA[:], h)
	if a.Size <= 0 {
		return a, fmt.Errorf("announcement: size %d", a.Size)
	}
	return a, nil
}

// wireObsMsg is one observation on the gossip queue.
type wireObsMsg struct {
	Node string `json:"o"`
	Site string `json:"si"`
	wireObs
}

// pushPull is LocalState: what a node holds, for anti-entropy.
type pushPull struct {
	Node  string       `json:"node"`
	State *wireAnn     `json:"state,omitempty"`
	Obs   []wireOrigin `json:"obs,omitempty"`
}

func encodeMessage(t byte, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sites: encode message: " + err.Error()) // only our own plain structs
	}
	return append([]byte{t}, b...)
}

// broadcast is a named gossip message: queuing one drops any queued
// message with the same name (memberlist.NamedBroadcast).
type broadcast struct {
	name string
	msg  []byte
}

var _ memberlist.NamedBroadcast = (*broadcast)(nil)

func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}
func (b *broadcast) Invalidates(o memberlist.Broadcast) bool {
	nb, ok := o.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}
