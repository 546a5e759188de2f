package sites

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// loadStateFile takes the state file as the held state and gives it to
// OnState. A missing file is normal on a site's first start; a bad one
// is logged and ignored (writes are atomic, so it means tampering or a
// disk fault), and the node fetches a fresh copy from the cluster.
func (n *Node) loadStateFile() {
	st, raw, err := ReadStateFile(n.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		n.log.Info("no state file yet; waiting for the cluster", "path", n.cfg.StateFile)
		return
	}
	if err != nil {
		n.metrics.stateFileError()
		n.log.Error("state file unusable; waiting for the cluster", "err", err)
		return
	}
	gz, err := compress(raw)
	if err != nil {
		n.log.Error("compress state file", "err", err)
		return
	}
	ann := announcement{Version: st.Version(), Size: int64(len(raw)), SHA: sha256.Sum256(raw), Holder: n.cfg.NodeName}
	n.cur.Store(&held{ann: ann, gz: gz, received: time.Now(), st: st})
	n.log.Info("serving the state file", "version", ann.Version, "bytes", len(raw))
	if n.cfg.OnState != nil {
		n.cfg.OnState(st)
	}
}

// Publish makes st the cluster's state: this node serves it, announces
// it to every member (directly and by gossip), and writes the state file.
// Only a leader publishes, and only a version newer than any this node
// holds or has heard of (ErrStale otherwise). st must not be modified
// afterwards.
func (n *Node) Publish(st *gslb.State) error {
	if n.cfg.Role != RoleLeader {
		return ErrNotLeader
	}
	if n.ml.Load() == nil {
		return ErrNotStarted
	}
	// Followers validate what they receive; a state they would all
	// refuse is better refused here, where the caller sees why. The held
	// state passed (whether published or fetched): only what differs
	// from it is judged again.
	prev := n.cur.Load()
	var prevState *gslb.State
	if prev != nil {
		prevState = prev.st
	}
	if err := st.ValidateChanged(prevState); err != nil {
		return fmt.Errorf("sites: publish %s: %w", st.Version(), err)
	}
	enc := st.EncodeParts()
	raw := enc.Raw
	if int64(len(raw)) > n.cfg.MaxStateBytes {
		return fmt.Errorf("sites: publish %s: %d bytes, over MaxStateBytes %d", st.Version(), len(raw), n.cfg.MaxStateBytes)
	}
	gz, err := compress(raw)
	if err != nil {
		return err
	}
	ann := announcement{
		Version:   st.Version(),
		Size:      int64(len(raw)),
		SHA:       sha256.Sum256(raw),
		Published: time.Now(),
		Origin:    n.cfg.NodeName,
		Holder:    n.cfg.NodeName,
	}

	delta := makeDelta(prev, enc)

	n.acceptMu.Lock()
	defer n.acceptMu.Unlock()
	if seen, known := n.highest(); known && !ann.Version.Newer(seen) {
		return fmt.Errorf("%w: publishing %s, but %s exists (take a higher term)", ErrStale, ann.Version, seen)
	}
	if n.cur.Load() != prev {
		delta = nil // another state came in meanwhile: not our base
	}
	n.cur.Store(&held{ann: ann, gz: gz, received: ann.Published, st: st, enc: enc, delta: delta})
	n.announce(ann)
	n.writeStateFile(raw)
	n.markMetaDirty()
	n.metrics.published(ann)
	n.log.Debug("published", "version", ann.Version, "bytes", len(raw), "compressed", len(gz), "delta", delta != nil)
	return nil
}

// announce tells the cluster about ann: a direct best-effort packet to
// every live member (one UDP round, no waiting for a gossip tick), and a
// gossip broadcast that replaces any older announcement in the queue and
// is relayed by every node that finds it new. Push/pull repairs whatever
// both miss.
func (n *Node) announce(ann announcement) {
	msg := encodeMessage(msgAnnounce, ann.wire())
	n.wantMu.Lock()
	if ann.newer(n.queued) {
		n.queued = ann
		n.queueBroadcast(stateBroadcastName, msg)
	}
	n.wantMu.Unlock()
	if n.cfg.noDirect || n.cfg.noBroadcast {
		return
	}
	ml := n.ml.Load()
	for _, a := range n.members.peers(n.cfg.NodeName) {
		if err := ml.SendToAddress(a, msg); err != nil {
			n.log.Debug("direct announcement failed", "to", a.Name, "err", err)
		}
	}
}

func (n *Node) queueBroadcast(name string, msg []byte) {
	if n.cfg.noBroadcast {
		return
	}
	n.bcast.QueueBroadcast(&broadcast{name: name, msg: msg})
	// A burst (every target of a site flapping at once) must not grow
	// the queue without bound: drop the most sent, and let push/pull
	// carry the rest.
	if n.bcast.NumQueued() > maxQueued {
		n.bcast.Prune(maxQueued)
	}
}

// heard records that from (a node name, may be empty) holds ann. A newer
// announcement becomes the one to fetch; relay says whether to gossip it
// on (everything but our own queue's echoes).
func (n *Node) heard(ann announcement, from string, relay bool) {
	if ann.empty() {
		return
	}
	cur := n.cur.Load()
	n.wantMu.Lock()
	if cur != nil && !ann.newer(cur.ann) {
		n.wantMu.Unlock()
		if cur.ann.SHA != ann.SHA {
			n.metrics.announcement("stale")
		}
		return
	}
	if ann.SHA == n.badSHA {
		n.wantMu.Unlock()
		return
	}
	switch {
	case ann.newer(n.want):
		n.want = ann
		n.sources = n.sources[:0]
		n.metrics.announcement("newer")
		if n.cfg.Role == RoleLeader && ann.Origin != n.cfg.NodeName && ann.Version.Term > n.warnedTerm {
			n.warnedTerm = ann.Version.Term
			n.log.Warn("another leader published a newer state; following it", "version", ann.Version, "origin", ann.Origin)
		}
	case ann.SHA != n.want.SHA:
		n.wantMu.Unlock()
		n.metrics.announcement("stale")
		return
	}
	for _, s := range []string{from, ann.Holder} {
		if s != "" && s != n.cfg.NodeName {
			n.sources = slices.DeleteFunc(n.sources, func(x string) bool { return x == s })
			n.sources = slices.Insert(n.sources, 0, s)
		}
	}
	if len(n.sources) > maxSources {
		n.sources = n.sources[:maxSources]
	}
	if relay && ann.newer(n.queued) {
		n.queued = ann
		n.queueBroadcast(stateBroadcastName, encodeMessage(msgAnnounce, ann.wire()))
	}
	n.wantMu.Unlock()
	n.poke()
}

// poke wakes the fetch loop: there is something new to fetch, or a new
// place to fetch it from. It never blocks.
func (n *Node) poke() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *Node) writeStateFile(raw []byte) {
	if n.cfg.StateFile == "" {
		return
	}
	if err := WriteFileAtomic(n.cfg.StateFile, raw, 0o644); err != nil {
		n.metrics.stateFileError()
		n.log.Error("state file not written; serving from memory", "err", err)
	}
}

func (n *Node) markMetaDirty() {
	select {
	case n.metaDirty <- struct{}{}:
	default:
	}
}
