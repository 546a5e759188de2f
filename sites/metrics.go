package sites

import (
	"cmp"
	"encoding/hex"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/gslb"
)

// Metrics are the gossip metrics, all prefixed meridian_sites_. Member
// series carry the member's name and site; a cluster has tens of sites,
// not thousands.
//
// Metrics is a prometheus.Collector: register it once, and give it to one
// Node (Config.Metrics). A nil *Metrics records nothing.
type Metrics struct {
	node atomic.Pointer[Node]

	transfers       *prometheus.CounterVec
	transferBytes   *prometheus.CounterVec
	transferSeconds *prometheus.HistogramVec
	lag             prometheus.Histogram
	announcements   *prometheus.CounterVec
	observations    *prometheus.CounterVec
	joinFailures    *prometheus.CounterVec
	stateFileErrors prometheus.Counter
	publishes       prometheus.Counter
	fetches         *prometheus.CounterVec
	fetchBytes      *prometheus.CounterVec
	deltasRefused   prometheus.Counter
	peerErrors      *prometheus.CounterVec
	lastLag         atomic.Int64 // nanoseconds

	members     *prometheus.Desc
	stateTerm   *prometheus.Desc
	stateGen    *prometheus.Desc
	stateBytes  *prometheus.Desc
	memberTerm  *prometheus.Desc
	memberGen   *prometheus.Desc
	lastLagDesc *prometheus.Desc
}

// LagBuckets are the propagation lag histogram's buckets, in seconds:
// from a loopback hop to a transfer of a large state across continents.
var LagBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewMetrics creates the gossip metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_state_transfers_total",
			Help: "State transfers, by direction (in: fetched, out: served) and result (ok, gone, auth, sha256, refused, delta: a delta that did not make the announced state, busy, error).",
		}, []string{"direction", "result"}),
		transferBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_state_transfer_bytes_total",
			Help: "Bytes on the wire of successful state transfers (compressed, framed), by direction.",
		}, []string{"direction"}),
		transferSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meridian_sites_state_transfer_duration_seconds",
			Help:    "Duration of state transfers, successful or not, by direction; in includes decoding.",
			Buckets: LagBuckets,
		}, []string{"direction"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meridian_sites_propagation_lag_seconds",
			Help:    "From the leader's publication to this node accepting the state (across clocks: includes their skew).",
			Buckets: LagBuckets,
		}),
		announcements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_announcements_total",
			Help: "State announcements heard (gossip and push/pull), by result: newer (to fetch) or stale (older than held).",
		}, []string{"result"}),
		observations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_observations_total",
			Help: "Health observations sent by this site and new ones received from others.",
		}, []string{"direction"}),
		joinFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_join_failures_total",
			Help: "Failed attempts to join the cluster, by reason (key: the peers use another gossip key; unreachable).",
		}, []string{"reason"}),
		stateFileErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_sites_state_file_errors_total",
			Help: "State file reads at start and writes that failed.",
		}),
		publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_sites_publications_total",
			Help: "States published by this node (leader).",
		}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_state_fetches_total",
			Help: "States fetched and accepted, by kind: full (the whole state) or delta (the changes from the held one).",
		}, []string{"kind"}),
		fetchBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_state_fetch_bytes_total",
			Help: "Bytes on the wire of the states fetched and accepted, by kind (full, delta).",
		}, []string{"kind"}),
		deltasRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_sites_state_deltas_refused_total",
			Help: "Deltas that did not make the announced state (or did not apply); each is followed by a full fetch.",
		}),
		peerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_sites_peer_errors_total",
			Help: "Errors other hosts caused at the gossip port, by kind (key: another or no gossip key; gossip: memberlist's warnings, such as packets that do not decrypt; transfer: refused state transfers). The log shows each message at most every 10 s.",
		}, []string{"kind"}),
		members: prometheus.NewDesc("meridian_sites_members",
			"Cluster members by status (alive, failed, left), this node included.", []string{"status"}, nil),
		stateTerm: prometheus.NewDesc("meridian_sites_state_term",
			"Term of the state this node holds.", nil, nil),
		stateGen: prometheus.NewDesc("meridian_sites_state_generation",
			"Generation of the state this node holds.", nil, nil),
		stateBytes: prometheus.NewDesc("meridian_sites_state_bytes",
			"Size of the state this node holds, encoded (form=raw) and compressed (form=gzip).", []string{"form"}, nil),
		memberTerm: prometheus.NewDesc("meridian_sites_member_state_term",
			"Term of the state each member holds, from its gossiped metadata.", []string{"member", "site"}, nil),
		memberGen: prometheus.NewDesc("meridian_sites_member_state_generation",
			"Generation of the state each member holds, from its gossiped metadata.", []string{"member", "site"}, nil),
		lastLagDesc: prometheus.NewDesc("meridian_sites_last_propagation_lag_seconds",
			"Propagation lag of the last state this node accepted.", nil, nil),
	}
}

func (m *Metrics) attach(n *Node) {
	if m != nil {
		m.node.Store(n)
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.transfers.Describe(ch)
	m.transferBytes.Describe(ch)
	m.transferSeconds.Describe(ch)
	m.lag.Describe(ch)
	m.announcements.Describe(ch)
	m.observations.Describe(ch)
	m.joinFailures.Describe(ch)
	m.stateFileErrors.Describe(ch)
	m.publishes.Describe(ch)
	m.fetches.Describe(ch)
	m.fetchBytes.Describe(ch)
	m.deltasRefused.Describe(ch)
	m.peerErrors.Describe(ch)
	for _, d := range []*prometheus.Desc{m.members, m.stateTerm, m.stateGen, m.stateBytes, m.memberTerm, m.memberGen, m.lastLagDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.transfers.Collect(ch)
	m.transferBytes.Collect(ch)
	m.transferSeconds.Collect(ch)
	m.lag.Collect(ch)
	m.announcements.Collect(ch)
	m.observations.Collect(ch)
	m.joinFailures.Collect(ch)
	m.stateFileErrors.Collect(ch)
	m.publishes.Collect(ch)
	m.fetches.Collect(ch)
	m.fetchBytes.Collect(ch)
	m.deltasRefused.Collect(ch)
	m.peerErrors.Collect(ch)
	ch <- prometheus.MustNewConstMetric(m.lastLagDesc, prometheus.GaugeValue, time.Duration(m.lastLag.Load()).Seconds())
	n := m.node.Load()
	if n == nil {
		return
	}
	counts := map[string]int{StatusAlive: 0, StatusFailed: 0, StatusLeft: 0}
	for _, mb := range n.Members() {
		counts[mb.Status]++
		ch <- prometheus.MustNewConstMetric(m.memberTerm, prometheus.GaugeValue, float64(mb.StateVersion.Term), mb.Name, mb.Site)
		ch <- prometheus.MustNewConstMetric(m.memberGen, prometheus.GaugeValue, float64(mb.StateVersion.Generation), mb.Name, mb.Site)
	}
	for s, c := range counts {
		ch <- prometheus.MustNewConstMetric(m.members, prometheus.GaugeValue, float64(c), s)
	}
	if h := n.cur.Load(); h != nil {
		ch <- prometheus.MustNewConstMetric(m.stateTerm, prometheus.GaugeValue, float64(h.ann.Version.Term))
		ch <- prometheus.MustNewConstMetric(m.stateGen, prometheus.GaugeValue, float64(h.ann.Version.Generation))
		ch <- prometheus.MustNewConstMetric(m.stateBytes, prometheus.GaugeValue, float64(h.ann.Size), "raw")
		ch <- prometheus.MustNewConstMetric(m.stateBytes, prometheus.GaugeValue, float64(len(h.gz)), "gzip")
	}
}

func (m *Metrics) transfer(direction, result string, bytes int64, took time.Duration) {
	if m == nil {
		return
	}
	m.transfers.WithLabelValues(direction, result).Inc()
	m.transferSeconds.WithLabelValues(direction).Observe(took.Seconds())
	if result == "ok" {
		m.transferBytes.WithLabelValues(direction).Add(float64(bytes))
	}
}

func (m *Metrics) accepted(_ announcement, lag time.Duration) {
	if m == nil || lag <= 0 {
		return
	}
	m.lag.Observe(lag.Seconds())
	m.lastLag.Store(int64(lag))
}

func (m *Metrics) published(announcement) {
	if m != nil {
		m.publishes.Inc()
	}
}

func (m *Metrics) fetched(kind string, wire int64) {
	if m != nil {
		m.fetches.WithLabelValues(kind).Inc()
		m.fetchBytes.WithLabelValues(kind).Add(float64(wire))
	}
}

func (m *Metrics) deltaRefused() {
	if m != nil {
		m.deltasRefused.Inc()
	}
}

func (m *Metrics) announcement(result string) {
	if m != nil {
		m.announcements.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) observation(direction string) {
	if m != nil {
		m.observations.WithLabelValues(direction).Inc()
	}
}

func (m *Metrics) joinFailed(err error) {
	if m == nil {
		return
	}
	reason := "unreachable"
	if errors.Is(err, ErrKeyMismatch) {
		reason = "key"
	}
	m.joinFailures.WithLabelValues(reason).Inc()
}

func (m *Metrics) peerError(kind string) {
	if m != nil {
		m.peerErrors.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) stateFileError() {
	if m != nil {
		m.stateFileErrors.Inc()
	}
}

// Member is one cluster member as this node sees it.
type Member struct {
	Name    string `json:"name"`
	Site    string `json:"site"`
	Role    Role   `json:"role"`
	Version string `json:"version,omitempty"` // Meridian build
	// StateVersion is the version of the state the member holds, and
	// StateSHA256 the first 16 hex digits of its hash (from metadata, so
	// it lags the member by a gossip round).
	StateVersion gslb.Version `json:"state_version"`
	StateSHA256  string       `json:"state_sha256,omitempty"`
	Addr         string       `json:"addr"`
	Status       string       `json:"status"` // alive, failed, left
	Since        time.Time    `json:"since"`
	Self         bool         `json:"self,omitempty"`
}

// Members lists the members this node knows, failed and departed ones
// included (for a day), sorted by site and name.
//
// Suspected members show as alive: memberlist offers no race-free way to
// read suspicion (Memberlist.Members hands out its own records, which it
// changes under a lock callers cannot take).
func (n *Node) Members() []Member {
	infos := n.members.list()
	out := make([]Member, 0, len(infos))
	for _, mi := range infos {
		m := Member{
			Name: mi.name, Site: mi.meta.Site, Role: mi.meta.Role, Version: mi.meta.Version,
			StateVersion: gslb.Version{Term: mi.meta.Term, Generation: mi.meta.Gen},
			StateSHA256:  mi.meta.SHA, Addr: mi.addr, Status: mi.status, Since: mi.since,
		}
		if mi.name == n.cfg.NodeName {
			m.Self = true
			m.StateVersion, m.StateSHA256 = gslb.Version{}, ""
			if h := n.cur.Load(); h != nil {
				m.StateVersion, m.StateSHA256 = h.ann.Version, hex.EncodeToString(h.ann.SHA[:8])
			}
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Name, b.Name)) })
	return out
}

// StateInfo describes the state a node holds.
type StateInfo struct {
	Version         gslb.Version `json:"version"`
	SHA256          string       `json:"sha256"`
	Bytes           int64        `json:"bytes"`
	CompressedBytes int          `json:"compressed_bytes"`
	Origin          string       `json:"origin,omitempty"` // the leader that published it; empty for a state file
	Published       time.Time    `json:"published,omitzero"`
	Received        time.Time    `json:"received"`
	// LagSeconds is Received - Published (clock skew included).
	LagSeconds float64 `json:"lag_seconds,omitempty"`
}

// Status is the node's view for /api/v1/sites.
type Status struct {
	Node      string `json:"node"`
	Site      string `json:"site"`
	Role      Role   `json:"role"`
	Encrypted bool   `json:"encrypted"`
	Joined    bool   `json:"joined"`
	JoinError string `json:"join_error,omitempty"`
	// State is what this node holds and serves; nil before any.
	State *StateInfo `json:"state,omitempty"`
	// Pending is a newer version heard of and not yet fetched.
	Pending      *gslb.Version       `json:"pending,omitempty"`
	Members      []Member            `json:"members"`
	Observations []RemoteObservation `json:"observations"`
}

// Status reports members, the held state and the observation table.
func (n *Node) Status() Status {
	s := Status{
		Node: n.cfg.NodeName, Site: n.cfg.Site, Role: n.cfg.Role,
		Encrypted: n.keyring != nil, Joined: n.isJoined(),
		Members: n.Members(), Observations: n.Observations(),
	}
	if err := n.JoinError(); err != nil && !s.Joined {
		s.JoinError = err.Error()
	}
	h := n.cur.Load()
	if h != nil {
		si := &StateInfo{
			Version: h.ann.Version, SHA256: hex.EncodeToString(h.ann.SHA[:]), Bytes: h.ann.Size,
			CompressedBytes: len(h.gz), Origin: h.ann.Origin, Published: h.ann.Published, Received: h.received,
		}
		if !h.ann.Published.IsZero() {
			si.LagSeconds = h.received.Sub(h.ann.Published).Seconds()
		}
		s.State = si
	}
	if want, _ := n.wanted(); !want.empty() {
		v := want.Version
		s.Pending = &v
	}
	return s
}
