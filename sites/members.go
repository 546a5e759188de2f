package sites

import (
	"encoding/hex"
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

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
