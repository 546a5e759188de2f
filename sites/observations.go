package sites

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// ObservationSink receives the health observations other sites share:
// health.Observations behind a small adapter (the source is
// health.SourceSite(site), the key health.Key's text form). Calls come
// from gossip goroutines, in order per site and key, one at a time; the
// sink must not call back into the Node.
type ObservationSink interface {
	// ObserveSite: site sees the target key up or down since since.
	ObserveSite(site, key string, up bool, since time.Time, errMsg string)
	// RemoveSite: site no longer probes key.
	RemoveSite(site, key string)
	// ForgetSite: site left the cluster (or failed); its observations
	// should expire.
	ForgetSite(site string)
}

// RemoteObservation is one entry of the observation table.
type RemoteObservation struct {
	Site     string    `json:"site"`
	Node     string    `json:"node"`
	Key      string    `json:"key"`
	Up       bool      `json:"up"`
	Since    time.Time `json:"since,omitzero"`
	Error    string    `json:"error,omitempty"`
	Received time.Time `json:"received"`
}

// maxErrLen keeps an observation within one gossip packet.
const maxErrLen = 200

// goneMemory is how long a departed node's late observations, relayed by
// peers that have not noticed yet, are refused; and how long withdrawn
// entries are remembered.
const goneMemory = 10 * time.Minute

type wireObs struct {
	Key     string `json:"k"`
	Up      bool   `json:"u,omitempty"`
	Since   int64  `json:"s,omitempty"` // Unix nanoseconds
	Err     string `json:"e,omitempty"`
	Stamp   int64  `json:"st"` // per origin, increasing: the newest wins
	Deleted bool   `json:"d,omitempty"`
}

type wireOrigin struct {
	Node    string    `json:"o"`
	Site    string    `json:"si"`
	Entries []wireObs `json:"e"`
}

// obsTable holds the latest observation per origin node and key: this
// node's own, shared by ShareObservation, and those relayed from others.
// Push/pull carries it whole, so a node that joins late, or missed
// gossip, learns every site's view.
type obsTable struct {
	mu        sync.Mutex
	origins   map[string]*obsOrigin
	gone      map[string]time.Time
	lastStamp int64
	gen       uint64 // counts changes, for the push/pull cache
}

func (t *obsTable) generation() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gen
}

type obsOrigin struct {
	site    string
	entries map[string]*obsEntry
}

type obsEntry struct {
	wireObs
	received time.Time
}

func (t *obsTable) init() {
	t.origins = make(map[string]*obsOrigin)
	t.gone = make(map[string]time.Time)
}

func (t *obsTable) originLocked(node, site string) *obsOrigin {
	o := t.origins[node]
	if o == nil {
		o = &obsOrigin{site: site, entries: make(map[string]*obsEntry)}
		t.origins[node] = o
	}
	o.site = site
	return o
}

// ShareObservation tells every other site what this site's probes see of
// a target: key is health.Key's text form, since when it has been in this
// state, errMsg the last error (cut to 200 bytes). Repeating the same
// observation costs nothing; a change is gossiped at once, and only the
// newest per key is queued. Other sites hand it to their
// ObservationSink; a site that joins later gets it by push/pull.
func (n *Node) ShareObservation(key string, up bool, since time.Time, errMsg string) {
	if len(errMsg) > maxErrLen {
		errMsg = strings.ToValidUTF8(errMsg[:maxErrLen], "")
	}
	w := wireObs{Key: key, Up: up, Err: errMsg}
	if !since.IsZero() {
		w.Since = since.UnixNano()
	}
	n.setOwn(w)
}

// WithdrawObservation tells the other sites this site no longer probes
// key.
func (n *Node) WithdrawObservation(key string) {
	n.setOwn(wireObs{Key: key, Deleted: true})
}

// setOwn records and gossips one of this node's observations; false when
// it changes nothing.
func (n *Node) setOwn(w wireObs) bool {
	t := &n.obs
	t.mu.Lock()
	o := t.originLocked(n.cfg.NodeName, n.cfg.Site)
	if e := o.entries[w.Key]; e != nil && e.Deleted == w.Deleted && e.Up == w.Up && e.Since == w.Since && e.Err == w.Err {
		t.mu.Unlock()
		return false
	}
	if e := o.entries[w.Key]; e == nil && w.Deleted {
		t.mu.Unlock()
		return false
	}
	now := time.Now()
	w.Stamp = max(t.lastStamp+1, now.UnixNano())
	t.lastStamp = w.Stamp
	o.entries[w.Key] = &obsEntry{wireObs: w, received: now}
	t.gen++
	t.mu.Unlock()
	msg := encodeMessage(msgObservation, wireObsMsg{Node: n.cfg.NodeName, Site: n.cfg.Site, wireObs: w})
	n.queueBroadcast(obsBroadcastName(n.cfg.NodeName, w.Key), msg)
	n.metrics.observation("sent")
	return true
}

func obsBroadcastName(node, key string) string { return "obs\x00" + node + "\x00" + key }

// receiveObservation takes one gossiped observation; when it is new, the
// sink hears it and it is relayed on (msg is the received message).
func (n *Node) receiveObservation(origin, site string, w wireObs, msg []byte) {
	if !n.applyObservation(origin, site, w) {
		return
	}
	n.metrics.observation("received")
	n.queueBroadcast(obsBroadcastName(origin, w.Key), slices.Clone(msg))
}

// mergeObservations takes a peer's observation table (push/pull): new
// entries reach the sink, nothing is relayed.
func (n *Node) mergeObservations(origins []wireOrigin) {
	for _, o := range origins {
		for _, w := range o.Entries {
			if n.applyObservation(o.Node, o.Site, w) {
				n.metrics.observation("received")
			}
		}
	}
}

// applyObservation stores w if it is newer than what origin said of the
// key before, and tells the sink the site's vote, under the table lock so
// that the sink sees every key's observations in stamp order.
// Observations of this node's own site are kept and relayed but not sunk:
// the local probes speak for it.
func (n *Node) applyObservation(origin, site string, w wireObs) bool {
	if origin == "" || origin == n.cfg.NodeName || site == "" || w.Key == "" {
		return false
	}
	t := &n.obs
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, gone := t.gone[origin]; gone {
		return false
	}
	o := t.originLocked(origin, site)
	if e := o.entries[w.Key]; e != nil && e.Stamp >= w.Stamp {
		return false
	}
	e := &obsEntry{wireObs: w, received: time.Now()}
	o.entries[w.Key] = e
	t.gen++
	if site != n.cfg.Site {
		// A newer entry of another replica of the site outvotes this
		// one, which changes nothing; a withdrawal lets the others'
		// votes stand (sinkVoteLocked).
		if v := t.siteVoteLocked(site, w.Key); v == nil || v == e || w.Deleted {
			n.sinkVoteLocked(site, w.Key, v)
		}
	}
	return true
}

// siteVoteLocked is what site says of key: the newest entry of its
// replicas (the origins of that site) that still probe it, nil when none
// does. Several replicas at one site vote as one site, with the latest
// observation any of them made: their stamps are their clocks, which
// within one site agree closely enough.
func (t *obsTable) siteVoteLocked(site, key string) *obsEntry {
	var vote *obsEntry
	for _, o := range t.origins {
		if o.site != site {
			continue
		}
		if e := o.entries[key]; e != nil && !e.Deleted && (vote == nil || e.Stamp > vote.Stamp) {
			vote = e
		}
	}
	return vote
}

// sinkVoteLocked hands the sink site's vote of key: v, or a removal when
// v is nil.
func (n *Node) sinkVoteLocked(site, key string, v *obsEntry) {
	sink := n.cfg.Observations
	switch {
	case sink == nil:
	case v == nil:
		sink.RemoveSite(site, key)
	default:
		var since time.Time
		if v.Since != 0 {
			since = time.Unix(0, v.Since)
		}
		sink.ObserveSite(site, key, v.Up, since, v.Err)
	}
}

// originGone drops a departed node's observations and refuses relayed
// ones for a while; when no live member of its site remains, the sink
// forgets the site.
func (n *Node) originGone(node, site string) {
	others := n.members.siteAlive(site, node)
	t := &n.obs
	t.mu.Lock()
	defer t.mu.Unlock()
	gone := t.origins[node]
	delete(t.origins, node)
	t.gone[node] = time.Now()
	t.gen++
	if site == "" || site == n.cfg.Site {
		return
	}
	if !others {
		if sink := n.cfg.Observations; sink != nil {
			sink.ForgetSite(site)
		}
		return
	}
	// Another replica of the site remains: its own observations become
	// the site's vote wherever the departed one's was the newest.
	if gone != nil {
		for key := range gone.entries {
			n.sinkVoteLocked(site, key, t.siteVoteLocked(site, key))
		}
	}
}

// back lets a node that returned report again.
func (t *obsTable) back(node string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.gone, node)
}

func (t *obsTable) prune(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for node, at := range t.gone {
		if now.Sub(at) > goneMemory {
			delete(t.gone, node)
		}
	}
	for _, o := range t.origins {
		for k, e := range o.entries {
			if e.Deleted && now.Sub(e.received) > goneMemory {
				delete(o.entries, k)
				t.gen++
			}
		}
	}
}

// snapshot is the table for push/pull, sorted.
func (t *obsTable) snapshot() []wireOrigin {
	return t.collect(func(string) bool { return true })
}

// snapshotOwn is this node's own entries only.
func (t *obsTable) snapshotOwn(self string) []wireOrigin {
	return t.collect(func(node string) bool { return node == self })
}

func (t *obsTable) collect(keep func(string) bool) []wireOrigin {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []wireOrigin
	for node, o := range t.origins {
		if !keep(node) || len(o.entries) == 0 {
			continue
		}
		wo := wireOrigin{Node: node, Site: o.site, Entries: make([]wireObs, 0, len(o.entries))}
		for _, e := range o.entries {
			wo.Entries = append(wo.Entries, e.wireObs)
		}
		slices.SortFunc(wo.Entries, func(a, b wireObs) int { return cmp.Compare(a.Key, b.Key) })
		out = append(out, wo)
	}
	slices.SortFunc(out, func(a, b wireOrigin) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// Observations returns the observation table: every site's latest view
// of every target, this node's own included, sorted by site, node, key.
func (n *Node) Observations() []RemoteObservation {
	t := &n.obs
	t.mu.Lock()
	var out []RemoteObservation
	for node, o := range t.origins {
		for _, e := range o.entries {
			if e.Deleted {
				continue
			}
			r := RemoteObservation{Site: o.site, Node: node, Key: e.Key, Up: e.Up, Error: e.Err, Received: e.received}
			if e.Since != 0 {
				r.Since = time.Unix(0, e.Since)
			}
			out = append(out, r)
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b RemoteObservation) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Node, b.Node), cmp.Compare(a.Key, b.Key))
	})
	return out
}
