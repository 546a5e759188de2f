package sites

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// nodeMeta is what other members learn about a node with its liveness.
type nodeMeta struct {
	Site    string `json:"s"`
	Role    Role   `json:"r"`
	Version string `json:"v,omitempty"`
	Term    uint64 `json:"t,omitempty"`
	Gen     uint64 `json:"g,omitempty"`
	SHA     string `json:"h,omitempty"` // first 16 hex digits of the held state's hash
}

func (n *Node) nodeMeta() []byte {
	m := nodeMeta{Site: n.cfg.Site, Role: n.cfg.Role, Version: n.cfg.Version}
	if h := n.cur.Load(); h != nil {
		m.Term, m.Gen = h.ann.Version.Term, h.ann.Version.Generation
		m.SHA = hex.EncodeToString(h.ann.SHA[:8])
	}
	return encodeMessage(metaV1, m)
}

func decodeMeta(b []byte) (nodeMeta, bool) {
	var m nodeMeta
	if len(b) < 2 || b[0] != metaV1 || json.Unmarshal(b[1:], &m) != nil {
		return m, false
	}
	return m, true
}

// Member statuses.
const (
	StatusAlive  = "alive"
	StatusFailed = "failed"
	StatusLeft   = "left"
)

// memberTable is the node's view of the cluster, fed by the event
// delegate. It keeps members that failed or left (memberlist forgets
// them), for visibility and to retry failed ones.
type memberTable struct {
	mu     sync.Mutex
	m      map[string]*memberInfo
	nAlive atomic.Int32 // members alive, this node included
}

type memberInfo struct {
	name   string
	addr   string // host:port
	meta   nodeMeta
	known  bool // meta decoded
	status string
	since  time.Time
}

func (t *memberTable) init() { t.m = make(map[string]*memberInfo) }

// set records a member's join or update; returns the previous status.
func (t *memberTable) set(nd *memberlist.Node, status string) (prev string, info memberInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	mi := t.m[nd.Name]
	if mi == nil {
		mi = &memberInfo{name: nd.Name}
		t.m[nd.Name] = mi
	}
	prev = mi.status
	mi.addr = net.JoinHostPort(nd.Addr.String(), strconv.Itoa(int(nd.Port)))
	if m, ok := decodeMeta(nd.Meta); ok {
		mi.meta, mi.known = m, true
	}
	if mi.status != status {
		if status == StatusAlive {
			t.nAlive.Add(1)
		} else if prev == StatusAlive {
			t.nAlive.Add(-1)
		}
		mi.status, mi.since = status, time.Now()
	}
	return prev, *mi
}

// alive is the number of live members, at least 1 (this node): the
// broadcast queue's retransmit limit grows with its log.
func (t *memberTable) alive() int { return max(1, int(t.nAlive.Load())) }

// siteAlive reports whether a member of site other than except is alive.
func (t *memberTable) siteAlive(site, except string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, mi := range t.m {
		if mi.name != except && mi.status == StatusAlive && mi.meta.Site == site {
			return true
		}
	}
	return false
}

// peers lists the live members other than self, as memberlist addresses.
func (t *memberTable) peers(self string) []memberlist.Address {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []memberlist.Address
	for _, mi := range t.m {
		if mi.status == StatusAlive && mi.name != self {
			out = append(out, memberlist.Address{Addr: mi.addr, Name: mi.name})
		}
	}
	return out
}

func (t *memberTable) addr(name string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	mi := t.m[name]
	if mi == nil || mi.status != StatusAlive {
		return "", false
	}
	return mi.addr, true
}

// holding lists live members whose metadata says they hold a.
func (t *memberTable) holding(a announcement) []string {
	short := hex.EncodeToString(a.SHA[:8])
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, mi := range t.m {
		if mi.status == StatusAlive && mi.meta.SHA == short &&
			mi.meta.Term == a.Version.Term && mi.meta.Gen == a.Version.Generation {
			out = append(out, mi.name)
		}
	}
	slices.Sort(out)
	return out
}

// failedAddrs lists members that failed (not left) after since.
func (t *memberTable) failedAddrs(since time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, mi := range t.m {
		if mi.status == StatusFailed && mi.since.After(since) {
			out = append(out, mi.addr)
		}
	}
	return out
}

func (t *memberTable) prune(before time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, mi := range t.m {
		if mi.status != StatusAlive && mi.since.Before(before) {
			delete(t.m, name)
		}
	}
}

func (t *memberTable) list() []memberInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]memberInfo, 0, len(t.m))
	for _, mi := range t.m {
		out = append(out, *mi)
	}
	return out
}

// events is the memberlist.EventDelegate. memberlist calls it with its
// node lock held, one call at a time: it must not call back into
// memberlist.
type events struct{ n *Node }

var _ memberlist.EventDelegate = (*events)(nil)

func (e *events) NotifyJoin(nd *memberlist.Node) {
	n := e.n
	prev, mi := n.members.set(nd, StatusAlive)
	if nd.Name == n.cfg.NodeName {
		return
	}
	n.obs.back(nd.Name)
	n.poke() // a holder may be back
	if !mi.known {
		n.log.Warn("member without Meridian metadata", "member", nd.Name, "addr", mi.addr)
	}
	n.log.Info("member joined", "member", nd.Name, "member_site", mi.meta.Site, "member_role", mi.meta.Role, "addr", mi.addr, "was", prev)
}

func (e *events) NotifyUpdate(nd *memberlist.Node) {
	e.n.members.set(nd, StatusAlive)
	e.n.poke() // it may now hold the state this node waits for
}

func (e *events) NotifyLeave(nd *memberlist.Node) {
	n := e.n
	status := StatusFailed
	if nd.State == memberlist.StateLeft {
		status = StatusLeft
	}
	_, mi := n.members.set(nd, status)
	if nd.Name == n.cfg.NodeName {
		return
	}
	n.log.Info("member "+status, "member", nd.Name, "member_site", mi.meta.Site)
	n.originGone(nd.Name, mi.meta.Site)
}

// logBridge turns memberlist's log lines ("[LEVEL] memberlist: msg")
// into slog records, and says plainly when a peer's key differs.
type logBridge struct{ log *slog.Logger }

func (b *logBridge) Write(p []byte) (int, error) {
	s := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{
		"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn,
		"[ERR]": slog.LevelError, "[ERROR]": slog.LevelError,
	} {
		if strings.HasPrefix(s, prefix) {
			level = l
			s = strings.TrimSpace(strings.TrimPrefix(s, prefix))
			break
		}
	}
	s = strings.TrimPrefix(s, "memberlist: ")
	if isKeyError(s) {
		b.log.Warn("gossip with a peer failed: its key differs from ours (or one side has none); nothing is exchanged with it", "detail", s)
		return len(p), nil
	}
	b.log.Log(context.Background(), level, "memberlist: "+s)
	return len(p), nil
}

// isKeyError recognises memberlist's errors for a key mismatch.
func isKeyError(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "no installed keys could decrypt") ||
		strings.Contains(s, "encryption is not configured") ||
		strings.Contains(s, "remote state is not encrypted")
}

// compress gzips an encoded state for serving. BestSpeed: the encoded
// JSON is repetitive enough that level 1 shrinks it most of the way; on
// the 100k-service benchmark state (45 MB) it gives 1.6 MB in 50 ms,
// where the default level gives 1.3 MB in 220 ms.
func compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw) / 8)
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decompress gunzips at most limit bytes; more is an error.
func decompress(gz []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if limit < 1<<30 {
		buf.Grow(int(limit))
	}
	if _, err := io.Copy(&buf, io.LimitReader(zr, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, errors.New("decompressed state is larger than announced")
	}
	return buf.Bytes(), nil
}
