package sites

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"

	"github.com/hashicorp/memberlist"
)

// delegate is the memberlist.Delegate. memberlist calls it from its
// packet and stream goroutines, concurrently: every method here only
// decodes and hands over under the Node's own locks, and none blocks on
// the network. NotifyMsg's buffer is reused after it returns, so nothing
// keeps it.
type delegate struct{ n *Node }

var _ memberlist.Delegate = (*delegate)(nil)

func (d *delegate) NodeMeta(limit int) []byte {
	b := d.n.nodeMeta()
	if len(b) > limit {
		// Validation keeps names short enough; never send a cut meta.
		d.n.log.Error("node metadata over the limit", "bytes", len(b), "limit", limit)
		return nil
	}
	return b
}

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	n := d.n
	switch b[0] {
	case msgAnnounce:
		var w wireAnn
		if err := json.Unmarshal(b[1:], &w); err != nil {
			n.log.Warn("bad announcement", "err", err)
			return
		}
		a, err := w.announcement()
		if err != nil {
			n.log.Warn("bad announcement", "err", err)
			return
		}
		n.heard(a, a.Holder, true)
	case msgObservation:
		var w wireObsMsg
		if err := json.Unmarshal(b[1:], &w); err != nil {
			n.log.Warn("bad observation", "err", err)
			return
		}
		n.receiveObservation(w.Node, w.Site, w.wireObs, b)
	default:
		n.log.Debug("unknown gossip message type; a newer release?", "type", b[0])
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.bcast.GetBroadcasts(overhead, limit)
}

// LocalState is cached until the held state or the observation table
// changes: memberlist asks at every push/pull, in both directions.
func (d *delegate) LocalState(join bool) []byte {
	n := d.n
	h, gen := n.cur.Load(), n.obs.generation()
	n.localMu.Lock()
	defer n.localMu.Unlock()
	if c := n.local; c.b != nil && c.held == h && c.gen == gen {
		return c.b
	}
	b := d.encodeLocalState(h)
	n.local = localCache{held: h, gen: gen, b: b}
	return b
}

func (d *delegate) encodeLocalState(h *held) []byte {
	n := d.n
	pp := pushPull{Node: n.cfg.NodeName, Obs: n.obs.snapshot()}
	if h != nil {
		a := h.ann
		a.Holder = n.cfg.NodeName
		pp.State = a.wire()
	}
	b, err := encodePushPull(&pp)
	if err != nil {
		n.log.Error("encode push/pull state", "err", err)
		return nil
	}
	if len(b) > maxPushPullBytes {
		// Too many observations for one exchange: send our own only;
		// other sites' views still travel by gossip and by their owners.
		pp.Obs = n.obs.snapshotOwn(n.cfg.NodeName)
		if b, err = encodePushPull(&pp); err != nil {
			return nil
		}
	}
	return b
}

// localCache is the last LocalState, for the held state and observation
// table generation it was made from.
type localCache struct {
	held *held
	gen  uint64
	b    []byte
}

// maxPushPullBytes keeps LocalState well under memberlist's 20 MB limit
// for a push/pull exchange.
const maxPushPullBytes = 8 << 20

func encodePushPull(pp *pushPull) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(pushPullV1)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(pp); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	n := d.n
	if len(buf) == 0 {
		return
	}
	if buf[0] != pushPullV1 {
		n.log.Debug("unknown push/pull format; a newer release?", "format", buf[0])
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf[1:]))
	if err != nil {
		n.log.Warn("bad push/pull state", "err", err)
		return
	}
	var pp pushPull
	if err := json.NewDecoder(io.LimitReader(zr, 8*maxPushPullBytes)).Decode(&pp); err != nil {
		n.log.Warn("bad push/pull state", "err", err)
		return
	}
	if pp.State != nil {
		if a, err := pp.State.announcement(); err == nil {
			n.heard(a, pp.Node, true)
		}
	}
	n.mergeObservations(pp.Obs)
}
