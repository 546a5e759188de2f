package sites

import (
	"cmp"
	"math"
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
	// should expire, and its load readings (LoadSink) go.
	ForgetSite(site string)
}

// LoadSink is an optional extension of ObservationSink: a sink that also
// implements it receives the load readings other sites' probes take of
// their targets (Node.ShareLoad), under the same rules (gossip
// goroutines, in order per site and key, one at a time, no calls back
// into the Node). A load reading is no health observation: it never
// causes ObserveSite or RemoveSite. ForgetSite covers both.
type LoadSink interface {
	// ObserveSiteLoad: site's newest reading of key's load, read at at.
	ObserveSiteLoad(site, key string, value float64, at time.Time)
	// RemoveSiteLoad: site no longer reads key's load (it stopped
	// probing it).
	RemoveSiteLoad(site, key string)
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
	// Load is the site's newest load reading of the target, read at
	// LoadAt; nil when it shares none.
	Load   *float64  `json:"load,omitempty"`
	LoadAt time.Time `json:"load_at,omitzero"`
}

// maxErrLen keeps an observation within one gossip packet.
const maxErrLen = 200

// goneMemory is how long a departed node's late observations, relayed by
// peers that have not noticed yet, are refused; and how long withdrawn
// entries are remembered.
const goneMemory = 10 * time.Minute

// Load readings are gossiped when they move by more than loadDelta
// (relative) from the last one sent, or when the last one sent is older
// than loadRefresh, so that a steady load still refreshes its age well
// within the load policy's max_age (30 s by default). The table keeps the
// newest reading in any case: push/pull carries it.
const (
	loadDelta   = 0.01
	loadRefresh = 5 * time.Second
)

// wireObs is one origin's entry of one key: its health observation and
// its load reading, each optional. Older releases ignore the load fields
// (L, LA, HS) and see a load-only entry as a withdrawal, which is what it
// is to them: no health observation.
type wireObs struct {
	Key   string `json:"k"`
	Up    bool   `json:"u,omitempty"`
	Since int64  `json:"s,omitempty"` // Unix nanoseconds
	Err   string `json:"e,omitempty"`
	Stamp int64  `json:"st"` // per origin, increasing: the newest wins
	// Deleted: the entry holds no health observation: withdrawn, or,
	// with a load reading (L), not made yet.
	Deleted bool `json:"d,omitempty"`
	// HStamp is the Stamp of the entry's last health change, when load
	// readings have stamped it since; 0: Stamp. Replicas of a site vote
	// by it (siteVoteLocked).
	HStamp int64 `json:"hs,omitempty"`
	// Load is the newest load reading of the key, read at LoadAt (Unix
	// nanoseconds); nil: none.
	Load   *float64 `json:"l,omitempty"`
	LoadAt int64    `json:"la,omitempty"`
}

// healthStamp is the Stamp of the entry's last health change.
func (w *wireObs) healthStamp() int64 {
	if w.HStamp != 0 {
		return w.HStamp
	}
	return w.Stamp
}

// loadOnly: a load reading, and no health observation.
func (w *wireObs) loadOnly() bool { return w.Deleted && w.Load != nil }

// sameHealth: a and b say the same of the key's health.
func sameHealth(a, b *wireObs) bool {
	if a.Deleted || b.Deleted {
		return a.Deleted == b.Deleted
	}
	return a.Up == b.Up && a.Since == b.Since && a.Err == b.Err
}

// sameLoad: a and b carry the same load reading, or both none.
func sameLoad(a, b *wireObs) bool {
	if a.Load == nil || b.Load == nil {
		return a.Load == nil && b.Load == nil
	}
	return *a.Load == *b.Load && a.LoadAt == b.LoadAt
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
	// On this node's own entries: the load reading last gossiped, and
	// when (the throttle of ShareLoad; zero: none gossiped yet).
	sentLoad   float64
	sentLoadAt time.Time
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
// key: its health observation and its load reading go.
func (n *Node) WithdrawObservation(key string) {
	n.setOwn(wireObs{Key: key, Deleted: true})
}

// setOwn records and gossips a change of the health part of one of this
// node's entries (a withdrawal drops the load reading too); false when it
// changes nothing.
func (n *Node) setOwn(w wireObs) bool {
	if w.Key == "" {
		return false
	}
	t := &n.obs
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.originLocked(n.cfg.NodeName, n.cfg.Site)
	prev := o.entries[w.Key]
	switch {
	case prev == nil && w.Deleted:
		return false
	case prev != nil && w.Deleted:
		if prev.Deleted && prev.Load == nil {
			return false
		}
	case prev != nil:
		if sameHealth(&prev.wireObs, &w) {
			return false
		}
		w.Load, w.LoadAt = prev.Load, prev.LoadAt // the reading stays
	}
	n.putOwnLocked(o, prev, w, true, true)
	n.metrics.observation("sent")
	return true
}

// ShareLoad tells every other site this site's newest reading of a
// target's load: key is health.Key's text form, at when it was read (zero:
// now). The reading joins the key's entry, whether or not it holds a
// health observation yet. It is gossiped when it differs from the last
// one gossiped by more than 1% or that one is older than 5 s; otherwise
// only the table keeps it, for push/pull. Other sites hand it to their
// sink when it implements LoadSink. A reading older than the one held, or
// not a finite number, is ignored.
func (n *Node) ShareLoad(key string, value float64, at time.Time) {
	if key == "" || math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	if at.IsZero() {
		at = time.Now()
	}
	la := at.UnixNano()
	t := &n.obs
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.originLocked(n.cfg.NodeName, n.cfg.Site)
	prev := o.entries[key]
	w := wireObs{Key: key, Deleted: true} // no health observation yet
	if prev != nil {
		if prev.Load != nil && (la < prev.LoadAt || la == prev.LoadAt && value == *prev.Load) {
			return
		}
		w = prev.wireObs
	}
	w.Load, w.LoadAt = &value, la
	now := time.Now()
	send := prev == nil || prev.sentLoadAt.IsZero() || now.Sub(prev.sentLoadAt) >= loadRefresh || loadMoved(prev.sentLoad, value)
	n.putOwnLocked(o, prev, w, false, send)
}

// loadMoved: v differs from the last reading sent by more than loadDelta.
func loadMoved(sent, v float64) bool {
	if sent == 0 {
		return v != 0
	}
	return math.Abs(v-sent) > loadDelta*math.Abs(sent)
}

// putOwnLocked stamps w, one of this node's entries, makes it the table's
// and, when send is set, gossips it. health says whether its health part
// changed (else the last health change's stamp stays, HStamp). The
// broadcast is queued under the table lock, so that the queue, where a
// newer message of the key replaces an older one, never ends with an
// older one.
func (n *Node) putOwnLocked(o *obsOrigin, prev *obsEntry, w wireObs, health, send bool) {
	t := &n.obs
	now := time.Now()
	w.Stamp = max(t.lastStamp+1, now.UnixNano())
	t.lastStamp = w.Stamp
	w.HStamp = 0
	if !health && prev != nil {
		if hs := prev.healthStamp(); hs != w.Stamp {
			w.HStamp = hs
		}
	}
	e := &obsEntry{wireObs: w, received: now}
	if prev != nil && w.Load != nil {
		e.sentLoad, e.sentLoadAt = prev.sentLoad, prev.sentLoadAt
	}
	o.entries[w.Key] = e
	t.gen++
	if !send {
		return
	}
	if w.Load != nil {
		e.sentLoad, e.sentLoadAt = *w.Load, now
	}
	msg := encodeMessage(msgObservation, wireObsMsg{Node: n.cfg.NodeName, Site: n.cfg.Site, wireObs: w})
	n.queueBroadcast(obsBroadcastName(n.cfg.NodeName, w.Key), msg)
}

func obsBroadcastName(node, key string) string { return "obs\x00" + node + "\x00" + key }

// receiveObservation takes one gossiped observation; when it is new, the
// sink hears it and it is relayed on (msg is the received message).
func (n *Node) receiveObservation(origin, site string, w wireObs, msg []byte) {
	applied, health := n.applyObservation(origin, site, w)
	if !applied {
		return
	}
	if health {
		n.metrics.observation("received")
	}
	n.queueBroadcast(obsBroadcastName(origin, w.Key), slices.Clone(msg))
}

// mergeObservations takes a peer's observation table (push/pull): new
// entries reach the sink, nothing is relayed.
func (n *Node) mergeObservations(origins []wireOrigin) {
	for _, o := range origins {
		for _, w := range o.Entries {
			if _, health := n.applyObservation(o.Node, o.Site, w); health {
				n.metrics.observation("received")
			}
		}
	}
}

// applyObservation stores w if it is newer than what origin said of the
// key before (applied), and tells the sink the site's vote, under the
// table lock so that the sink sees every key's observations in stamp
// order: the health vote only when w changed the entry's health (health),
// the load only when it changed the entry's reading, so that a load
// reading never looks like a health change.
// Observations of this node's own site are kept and relayed but not sunk:
// the local probes speak for it.
func (n *Node) applyObservation(origin, site string, w wireObs) (applied, health bool) {
	if origin == "" || origin == n.cfg.NodeName || site == "" || w.Key == "" {
		return false, false
	}
	t := &n.obs
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, gone := t.gone[origin]; gone {
		return false, false
	}
	o := t.originLocked(origin, site)
	prev := o.entries[w.Key]
	if prev != nil && prev.Stamp >= w.Stamp {
		return false, false
	}
	e := &obsEntry{wireObs: w, received: time.Now()}
	o.entries[w.Key] = e
	t.gen++
	if prev == nil {
		// A first entry: a health observation, or a withdrawal (as
		// ever); a load-only one says nothing of health.
		health = !w.loadOnly()
	} else {
		health = !sameHealth(&prev.wireObs, &w)
	}
	loadChanged := prev == nil && w.Load != nil || prev != nil && !sameLoad(&prev.wireObs, &w)
	if site != n.cfg.Site {
		if health {
			// A newer entry of another replica of the site outvotes
			// this one, which changes nothing; a withdrawal lets the
			// others' votes stand (sinkVoteLocked).
			if v := t.siteVoteLocked(site, w.Key); v == nil || v == e || w.Deleted {
				n.sinkVoteLocked(site, w.Key, v)
			}
		}
		if loadChanged {
			// Likewise the newest reading of the site's replicas.
			if v := t.siteLoadLocked(site, w.Key); v == nil || v == e || w.Load == nil {
				n.sinkLoadLocked(site, w.Key, v)
			}
		}
	}
	return true, health
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
		if e := o.entries[key]; e != nil && !e.Deleted && (vote == nil || e.healthStamp() > vote.healthStamp()) {
			vote = e
		}
	}
	return vote
}

// siteLoadLocked is site's load reading of key: the newest of its
// replicas', nil when none reads it.
func (t *obsTable) siteLoadLocked(site, key string) *obsEntry {
	var vote *obsEntry
	for _, o := range t.origins {
		if o.site != site {
			continue
		}
		if e := o.entries[key]; e != nil && e.Load != nil && (vote == nil || e.LoadAt > vote.LoadAt) {
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

// sinkLoadLocked hands a LoadSink site's reading of key: v's, or a
// removal when v is nil.
func (n *Node) sinkLoadLocked(site, key string, v *obsEntry) {
	sink, ok := n.cfg.Observations.(LoadSink)
	switch {
	case !ok:
	case v == nil:
		sink.RemoveSiteLoad(site, key)
	default:
		at := v.received
		if v.LoadAt != 0 {
			at = time.Unix(0, v.LoadAt)
		}
		sink.ObserveSiteLoad(site, key, *v.Load, at)
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
	// the site's vote wherever the departed one's was the newest, and its
	// readings the site's wherever the departed one read the load.
	if gone != nil {
		for key, e := range gone.entries {
			if !e.loadOnly() {
				n.sinkVoteLocked(site, key, t.siteVoteLocked(site, key))
			}
			if e.Load != nil {
				n.sinkLoadLocked(site, key, t.siteLoadLocked(site, key))
			}
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
// of every target, this node's own included, sorted by site, node, key,
// with its load reading when it has one (a reading without a health
// observation is not listed).
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
			if e.Load != nil {
				l := *e.Load
				r.Load, r.LoadAt = &l, time.Unix(0, e.LoadAt)
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
