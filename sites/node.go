package sites

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/meridian-gslb/meridian/gslb"
)

// Errors returned by Node.
var (
	// ErrNotLeader: Publish on a follower.
	ErrNotLeader = errors.New("sites: only a leader publishes")
	// ErrStale: Publish with a version not newer than one this node
	// holds or has heard of. Another leader has published since: step
	// down, or take a higher term (see HighestVersion).
	ErrStale = errors.New("sites: the cluster has a newer state")
	// ErrKeyMismatch: the peer's gossip key is not in our keyring, or
	// ours is not in its.
	ErrKeyMismatch = errors.New("sites: the peer uses a different gossip key")
	// ErrNotStarted: the node is not running.
	ErrNotStarted = errors.New("sites: node not started")
)

// Node is one Meridian process in the gossip cluster of sites. Create it
// with New, run it with Start, stop it with Leave (gracefully) or
// Shutdown; see lifecycle.go.
type Node struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	peers   *peerLog            // log lines other hosts can cause, rate-limited
	keyring *memberlist.Keyring // nil: insecure without keys

	keysMu sync.RWMutex
	keys   [][]byte // copy of the keyring, primary first

	ml        atomic.Pointer[memberlist.Memberlist]
	tr        *muxTransport
	bcast     *memberlist.TransmitLimitedQueue
	advertise string // host:port other nodes dial

	// cur is the state this node holds and serves to peers.
	cur atomic.Pointer[held]
	// acceptMu orders Publish and accepted states; onStateMu keeps
	// OnState calls in the same order without holding acceptMu.
	acceptMu  sync.Mutex
	onStateMu sync.Mutex

	wantMu     sync.Mutex
	want       announcement // newest version heard of
	sources    []string     // nodes that may hold want, most recent first
	queued     announcement // newest announcement put on the gossip queue
	badSHA     [32]byte     // content this build refused; not fetched again
	warnedTerm uint64       // leader: last newer term from elsewhere logged
	kick       chan struct{}

	members memberTable
	obs     obsTable
	localMu sync.Mutex
	local   localCache

	metaDirty chan struct{}
	serveSem  chan struct{}
	joined    chan struct{}
	joinOnce  sync.Once
	joinErr   atomic.Pointer[error]

	// lifeMu serialises Start and the stop sequence (lifecycle.go);
	// started and stopped say how far the node has got.
	lifeMu  sync.Mutex
	started bool
	stopped bool
	ctx     context.Context // ends when the node stops: its loops return
	cancel  context.CancelFunc
	wg      sync.WaitGroup // fetchLoop, maintainLoop, joinLoop
}

// held is a state a node holds: its announcement and its compressed
// encoding, served to peers as is, and what deltas need (delta.go).
type held struct {
	ann      announcement
	gz       []byte
	received time.Time
	// st is the State itself: the base a delta from the next version
	// applies to. nil for a state file this build refused to decode.
	st *gslb.State
	// enc, on the leader, is st's encoding with its parts: the base of
	// the next publication's delta. Only the current one is kept.
	enc *gslb.Encoding
	// delta, when set, is the change from the previous version to this
	// one, served to a peer that holds that previous version.
	delta *heldDelta
}

// New validates cfg and prepares a node. Without keys it refuses unless
// cfg.Insecure is set.
func New(cfg Config) (*Node, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	keys, err := cfg.loadKeys()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger.With("node", cfg.NodeName, "site", cfg.Site),
		metrics:   cfg.Metrics,
		kick:      make(chan struct{}, 1),
		metaDirty: make(chan struct{}, 1),
		serveSem:  make(chan struct{}, maxServing),
		joined:    make(chan struct{}),
	}
	n.peers = newPeerLog(n.log, cfg.Metrics)
	n.members.init()
	n.obs.init()
	if len(keys) > 0 {
		n.keyring, err = memberlist.NewKeyring(keys[1:], keys[0])
		if err != nil {
			return nil, &ConfigError{Field: "Keys", Msg: err.Error()}
		}
		n.keys = cloneKeys(n.keyring.GetKeys())
	} else {
		n.log.Warn("gossip runs WITHOUT encryption or authentication (Insecure): any host that reaches the gossip port can join and publish")
	}
	n.bcast = &memberlist.TransmitLimitedQueue{
		// Not ml.NumMembers: memberlist may ask while holding its node
		// lock, which NumMembers takes again.
		NumNodes: n.members.alive,
	}
	n.metrics.attach(n)
	return n, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// Addr is the address other nodes dial for gossip and state transfers,
// host:port; empty before Start.
func (n *Node) Addr() string { return n.advertise }

// HighestVersion is the newest state version this node holds or has
// heard of. A node taking the lead must publish a higher term.
func (n *Node) HighestVersion() gslb.Version {
	v, _ := n.highest()
	return v
}

// highest is HighestVersion, and false when the node has neither held
// nor heard of any state.
func (n *Node) highest() (gslb.Version, bool) {
	var v gslb.Version
	h := n.cur.Load()
	if h != nil {
		v = h.ann.Version
	}
	n.wantMu.Lock()
	defer n.wantMu.Unlock()
	if n.want.Version.Newer(v) {
		v = n.want.Version
	}
	return v, h != nil || !n.want.empty()
}

// StateVersion is the version of the state this node holds and serves,
// and false when it holds none.
func (n *Node) StateVersion() (gslb.Version, bool) {
	h := n.cur.Load()
	if h == nil {
		return gslb.Version{}, false
	}
	return h.ann.Version, true
}
