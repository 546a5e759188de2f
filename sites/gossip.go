package sites

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"math/rand/v2"
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

// Role is what a node does in the cluster.
type Role string

// The roles. Only a leader publishes; every node, leaders included,
// accepts a newer state from the cluster, so a leader replica that lost
// its Lease follows the one that won it.
const (
	RoleLeader   Role = "leader"
	RoleFollower Role = "follower"
)

// Timing picks memberlist's timeouts and intervals.
type Timing string

// The timings.
const (
	// TimingWAN (the default) suits sites across regions: memberlist's
	// WAN profile (5 s probes, 3 s probe timeout, 60 s push/pull) with a
	// 200 ms gossip interval, which costs nothing while the broadcast
	// queue is empty and shortens the first hop of an announcement.
	TimingWAN Timing = "wan"
	// TimingLAN is memberlist's LAN profile: sites in one region.
	TimingLAN Timing = "lan"
	// TimingLocal is memberlist's loopback profile, for tests.
	TimingLocal Timing = "local"
)

// Defaults of Config.
const (
	DefaultBindAddr        = "0.0.0.0"
	DefaultPort            = 7946
	DefaultRetryInterval   = time.Second
	DefaultRejoinInterval  = 30 * time.Second
	DefaultTransferTimeout = 2 * time.Minute
	DefaultMaxStateBytes   = 1 << 30
	maxRetryInterval       = 30 * time.Second
	leaveTimeout           = 5 * time.Second
	updateNodeTimeout      = 250 * time.Millisecond // only how long to wait for the first send; the update stays queued
	failedMemberMemory     = 24 * time.Hour         // how long a failed member is retried
	maxSources             = 8
	busyRetry              = 100 * time.Millisecond
	maxQueued              = 4096 // gossip messages waiting to be sent
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

// ConfigError is a configuration mistake, naming the Config field.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "sites: config: " + e.Field + ": " + e.Msg }

// Config configures a Node. The zero value of each optional field is its
// documented default.
type Config struct {
	// NodeName identifies the node in the cluster; unique. Required.
	NodeName string
	// Site is the site this node serves, a gslb.Site name. Required.
	// Observations shared by this node speak for the site.
	Site string
	// Role is leader or follower. Required.
	Role Role
	// Version is the Meridian build, shown to other members.
	Version string

	// BindAddr and BindPort are where gossip (UDP and TCP) and state
	// transfers (TCP, on the same port) listen. BindAddr defaults to
	// 0.0.0.0. BindPort 0 lets the kernel choose, for tests; the
	// production default is DefaultPort, which the caller sets.
	BindAddr string
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other sites dial when
	// they differ from the bind address (NAT, a Kubernetes Service).
	// Empty: a private address of the host (or the bound address), and
	// the bound port.
	AdvertiseAddr string
	AdvertisePort int
	// Join lists peers to join, "host" or "host:port", names or IPs.
	// Names are resolved on every attempt; attempts are retried with
	// backoff until one peer answers. Empty: this node starts a cluster.
	Join []string

	// KeyFile holds the gossip keys, one base64 key per line, primary
	// first (see ParseKeys); a mounted Secret works. Keys gives them
	// directly instead. One of the two is required unless Insecure.
	KeyFile string
	Keys    [][]byte
	// Insecure allows running without keys: gossip and state transfers
	// travel in the clear and anyone who can reach the port can join.
	Insecure bool

	// StateFile is where the last accepted state is kept. On Start it
	// is loaded and handed to OnState before the node joins, so a site
	// serves its last state even when no other site is reachable.
	StateFile string
	// OnState receives every state this node accepts: the state file's
	// at Start, then each newer one from the cluster, in version order,
	// one call at a time. It is not called for the node's own Publish;
	// on a leader, a call means another leader published a newer state.
	// It may call Publish, but must not block for long.
	OnState func(*gslb.State)
	// Observations receives the health observations other sites share.
	Observations ObservationSink

	// Timing selects the memberlist profile; default TimingWAN.
	Timing Timing
	// PushPullInterval overrides the profile's anti-entropy interval:
	// every interval each node exchanges its state version and
	// observation table with one random peer over TCP.
	PushPullInterval time.Duration
	// RetryInterval is the first delay between join attempts and state
	// fetch retries, doubled up to 30 s; default 1 s.
	RetryInterval time.Duration
	// RejoinInterval is how often a node retries members that failed
	// (not those that left) and, when it is alone, its Join list, so a
	// healed partition merges back; default 30 s.
	RejoinInterval time.Duration
	// TransferTimeout bounds one state transfer; default 2 min.
	TransferTimeout time.Duration
	// MaxStateBytes refuses states larger than this, encoded; default
	// 1 GiB.
	MaxStateBytes int64

	// Logger receives the node's and memberlist's logs; default
	// slog.Default().
	Logger *slog.Logger
	// Metrics, when set, records the meridian_sites_* metrics; register
	// it with a prometheus registry.
	Metrics *Metrics

	// test hooks
	netFilter     *netFilter          // drops traffic to chosen peers
	noDirect      bool                // Publish does not notify members directly
	noBroadcast   bool                // no gossip broadcasts at all: anti-entropy only
	serveOverride func([]byte) []byte // replaces the served compressed state
	tune          func(*memberlist.Config)
}

func (c *Config) applyDefaults() {
	if c.BindAddr == "" {
		c.BindAddr = DefaultBindAddr
	}
	if c.Timing == "" {
		c.Timing = TimingWAN
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.RejoinInterval <= 0 {
		c.RejoinInterval = DefaultRejoinInterval
	}
	if c.TransferTimeout <= 0 {
		c.TransferTimeout = DefaultTransferTimeout
	}
	if c.MaxStateBytes <= 0 {
		c.MaxStateBytes = DefaultMaxStateBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.NodeName == "" {
		bad("NodeName", "required")
	} else if len(c.NodeName) > 128 {
		bad("NodeName", "at most 128 bytes, got %d", len(c.NodeName))
	}
	if c.Site == "" {
		bad("Site", "required")
	} else if len(c.Site) > 63 {
		bad("Site", "at most 63 bytes, got %d", len(c.Site))
	}
	if c.Role != RoleLeader && c.Role != RoleFollower {
		bad("Role", "must be %q or %q, got %q", RoleLeader, RoleFollower, c.Role)
	}
	if len(c.Version) > 64 {
		bad("Version", "at most 64 bytes, got %d", len(c.Version))
	}
	if net.ParseIP(c.BindAddr) == nil {
		bad("BindAddr", "%q is not an IP address", c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		bad("BindPort", "%d is outside 0..65535", c.BindPort)
	}
	if c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil {
		bad("AdvertiseAddr", "%q is not an IP address", c.AdvertiseAddr)
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		bad("AdvertisePort", "%d is outside 0..65535", c.AdvertisePort)
	}
	for i, j := range c.Join {
		if j == "" {
			bad(fmt.Sprintf("Join[%d]", i), "empty address")
		}
	}
	switch {
	case c.KeyFile != "" && len(c.Keys) > 0:
		bad("KeyFile", "set KeyFile or Keys, not both")
	case c.KeyFile == "" && len(c.Keys) == 0 && !c.Insecure:
		bad("KeyFile", "gossip needs a key (KeyFile or Keys) to encrypt and authenticate traffic between sites; set Insecure to run without one")
	}
	switch c.Timing {
	case TimingWAN, TimingLAN, TimingLocal:
	default:
		bad("Timing", "must be %q, %q or %q, got %q", TimingWAN, TimingLAN, TimingLocal, c.Timing)
	}
	return errors.Join(errs...)
}

// Node is one Meridian process in the gossip cluster of sites. Create it
// with New, run it with Start, stop it with Leave and Shutdown.
type Node struct {
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
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

	started  atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// held is a state a node holds: its announcement and its compressed
// encoding, served to peers as is.
type held struct {
	ann      announcement
	gz       []byte
	received time.Time
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

// Start loads the state file and hands it to OnState, then starts
// listening and joins the cluster in the background, retrying until a
// peer answers (see Joined). The node runs until Shutdown, or until ctx is
// done, which leaves the cluster and shuts the node down. A node whose
// Start failed cannot be started again: create another.
func (n *Node) Start(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("sites: node already started")
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	// Static stability: serve the last state before anything else, so a
	// site whose peers are all unreachable still answers.
	if n.cfg.StateFile != "" {
		n.loadStateFile()
	}

	mlog := log.New(&logBridge{log: n.log}, "", 0)
	tr, err := newMuxTransport(n.cfg.BindAddr, n.cfg.BindPort, mlog, n.serveTransfer, n.cfg.netFilter)
	if err != nil {
		n.cancel()
		return fmt.Errorf("sites: listen on %s: %w", net.JoinHostPort(n.cfg.BindAddr, strconv.Itoa(n.cfg.BindPort)), err)
	}
	n.tr = tr
	mc := n.memberlistConfig(tr, tr.port(), mlog)
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = tr.Shutdown()
		n.cancel()
		return fmt.Errorf("sites: start gossip: %w", err)
	}
	// Read once, before anything can re-advertise: LocalNode hands out
	// memberlist's own record, which UpdateNode rewrites unlocked.
	ln := ml.LocalNode()
	n.advertise = net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
	n.ml.Store(ml)
	n.log.Info("gossip started", "addr", n.advertise, "role", n.cfg.Role, "timing", n.cfg.Timing, "encrypted", n.keyring != nil)

	n.wg.Add(3)
	go n.fetchLoop()
	go n.maintainLoop()
	go n.joinLoop()
	go func() {
		select {
		case <-ctx.Done():
			_ = n.Leave(leaveTimeout)
			_ = n.Shutdown()
		case <-n.ctx.Done():
		}
	}()
	return nil
}

func (n *Node) memberlistConfig(tr *muxTransport, port int, mlog *log.Logger) *memberlist.Config {
	var mc *memberlist.Config
	switch n.cfg.Timing {
	case TimingLAN:
		mc = memberlist.DefaultLANConfig()
	case TimingLocal:
		mc = memberlist.DefaultLocalConfig()
	default:
		mc = memberlist.DefaultWANConfig()
		mc.GossipInterval = 200 * time.Millisecond
	}
	mc.Name = n.cfg.NodeName
	mc.BindAddr = n.cfg.BindAddr
	mc.BindPort = port
	mc.AdvertiseAddr = n.cfg.AdvertiseAddr
	mc.AdvertisePort = port
	if n.cfg.AdvertisePort != 0 {
		mc.AdvertisePort = n.cfg.AdvertisePort
	}
	if n.cfg.PushPullInterval > 0 {
		mc.PushPullInterval = n.cfg.PushPullInterval
	}
	mc.Transport = tr
	mc.Delegate = &delegate{n: n}
	mc.Events = &events{n: n}
	mc.Keyring = n.keyring
	mc.Logger = mlog
	if n.cfg.tune != nil {
		n.cfg.tune(mc)
	}
	return mc
}

// Joined is closed once the node has joined a peer (at once when Join is
// empty).
func (n *Node) Joined() <-chan struct{} { return n.joined }

// JoinError is the last failed join attempt's error, nil once joined.
func (n *Node) JoinError() error {
	if p := n.joinErr.Load(); p != nil {
		return *p
	}
	return nil
}

// WaitJoined waits until the node has joined, or ctx is done; then it
// returns the last join error.
func (n *Node) WaitJoined(ctx context.Context) error {
	select {
	case <-n.joined:
		return nil
	case <-ctx.Done():
		if err := n.JoinError(); err != nil {
			return err
		}
		return ctx.Err()
	}
}

// Leave tells the cluster this node is going, so peers drop it at once
// instead of suspecting it; then call Shutdown.
func (n *Node) Leave(timeout time.Duration) error {
	ml := n.ml.Load()
	if ml == nil {
		return ErrNotStarted
	}
	return ml.Leave(timeout)
}

// Shutdown stops the node without leaving: peers will see it fail.
// It is safe to call more than once.
func (n *Node) Shutdown() error {
	if !n.started.Load() {
		return ErrNotStarted
	}
	var err error
	n.stopOnce.Do(func() {
		n.cancel()
		if ml := n.ml.Load(); ml != nil {
			err = ml.Shutdown()
		}
		n.wg.Wait()
		if n.tr != nil {
			n.tr.wait()
		}
	})
	return err
}

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
	n.cur.Store(&held{ann: ann, gz: gz, received: time.Now()})
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
	// refuse is better refused here, where the caller sees why.
	if err := st.Validate(); err != nil {
		return fmt.Errorf("sites: publish %s: %w", st.Version(), err)
	}
	raw, err := st.Encode()
	if err != nil {
		return err
	}
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

	n.acceptMu.Lock()
	defer n.acceptMu.Unlock()
	if seen, known := n.highest(); known && !ann.Version.Newer(seen) {
		return fmt.Errorf("%w: publishing %s, but %s exists (take a higher term)", ErrStale, ann.Version, seen)
	}
	n.cur.Store(&held{ann: ann, gz: gz, received: ann.Published})
	n.announce(ann)
	n.writeStateFile(raw)
	n.markMetaDirty()
	n.metrics.published(ann)
	n.log.Debug("published", "version", ann.Version, "bytes", len(raw), "compressed", len(gz))
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

// fetchLoop fetches the newest announced state whenever it is newer than
// the held one: from the announcing holder first, then from any member
// whose metadata says it holds that version. All failing, it retries with
// backoff; a new announcement retries at once.
func (n *Node) fetchLoop() {
	defer n.wg.Done()
	delay := n.cfg.RetryInterval
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.kick:
			delay = n.cfg.RetryInterval
		case <-retry.C:
		}
		want, sources := n.wanted()
		if want.empty() {
			continue
		}
		ok, busy := n.fetchAny(want, sources)
		switch {
		case ok:
			delay = n.cfg.RetryInterval
		case n.ctx.Err() != nil:
			return
		case busy:
			// Holders at their limit: retry soon (by then peers that
			// fetched first hold it too), without backing off.
			retry.Reset(jitter(min(n.cfg.RetryInterval, busyRetry)))
		default:
			retry.Reset(jitter(delay))
			delay = min(2*delay, maxRetryInterval)
		}
	}
}

// wanted returns the announcement to fetch (empty when the held state is
// current) and the nodes to try, best first.
func (n *Node) wanted() (announcement, []string) {
	cur := n.cur.Load()
	n.wantMu.Lock()
	want, sources := n.want, slices.Clone(n.sources)
	n.wantMu.Unlock()
	if want.empty() || (cur != nil && !want.newer(cur.ann)) {
		return announcement{}, nil
	}
	for _, m := range n.members.holding(want) {
		if !slices.Contains(sources, m) {
			sources = append(sources, m)
		}
	}
	return want, sources
}

// fetchAny tries each source in turn. ok: want is accepted (or
// superseded, or refused for good); busy: some source was at its limit.
func (n *Node) fetchAny(want announcement, sources []string) (ok, busy bool) {
	for _, src := range sources {
		addr, found := n.members.addr(src)
		if !found {
			continue
		}
		f, err := n.fetch(n.ctx, addr, want)
		if err != nil {
			var gone *goneError
			switch {
			case errors.As(err, &gone):
				n.log.Debug("state moved on at the holder", "from", src, "want", want.Version, "holder_has", gone.have.Version)
				n.heard(gone.have, src, true)
			case errors.Is(err, errBadContent):
				// The bytes are the announced ones, and this build
				// refuses them: fetching again will not help.
				n.log.Error("refused the published state", "version", want.Version, "origin", want.Origin, "err", err)
				n.wantMu.Lock()
				n.badSHA = want.SHA
				n.wantMu.Unlock()
				return true, false
			case errors.Is(err, errBusy):
				busy = true
				n.log.Debug("holder busy", "from", src)
			case n.ctx.Err() != nil:
				return false, false
			default:
				n.log.Warn("state transfer failed", "from", src, "addr", addr, "version", want.Version, "err", err)
			}
			continue
		}
		n.accept(f)
		return true, false
	}
	return false, busy
}

// accept makes a fetched state the held one if it is still newer: state
// file first, then OnState.
func (n *Node) accept(f *fetched) {
	n.acceptMu.Lock()
	if cur := n.cur.Load(); cur != nil && !f.ann.newer(cur.ann) {
		n.acceptMu.Unlock()
		return
	}
	now := time.Now()
	h := &held{ann: f.ann, gz: f.gz, received: now}
	h.ann.Holder = n.cfg.NodeName
	n.cur.Store(h)
	n.writeStateFile(f.raw)
	n.markMetaDirty()
	var lag time.Duration
	if !f.ann.Published.IsZero() {
		lag = now.Sub(f.ann.Published)
	}
	n.metrics.accepted(f.ann, lag)
	n.log.Info("accepted state", "version", f.ann.Version, "origin", f.ann.Origin, "bytes", f.ann.Size, "lag", lag.Round(time.Millisecond))
	n.onStateMu.Lock()
	n.acceptMu.Unlock()
	defer n.onStateMu.Unlock()
	if n.cfg.OnState != nil {
		n.cfg.OnState(f.st)
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

// joinLoop joins the Join peers, retrying with backoff until one answers,
// then every RejoinInterval retries failed members (and the Join list when
// alone), so a partition that heals after memberlist gave up merges back.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	if len(n.cfg.Join) == 0 {
		n.joinOnce.Do(func() { close(n.joined) })
	}
	delay := n.cfg.RetryInterval
	for attempt := 1; !n.isJoined(); attempt++ {
		cnt, err := n.ml.Load().Join(n.cfg.Join)
		if cnt > 0 {
			n.joinErr.Store(nil)
			n.joinOnce.Do(func() { close(n.joined) })
			n.log.Info("joined the cluster", "contacted", cnt, "members", n.ml.Load().NumMembers())
			break
		}
		err = classifyJoinError(err)
		n.joinErr.Store(&err)
		n.metrics.joinFailed(err)
		level := slog.LevelWarn
		if errors.Is(err, ErrKeyMismatch) {
			level = slog.LevelError
		}
		n.log.Log(n.ctx, level, "join failed; retrying", "peers", n.cfg.Join, "attempt", attempt, "retry_in", delay, "err", err)
		if !n.sleep(jitter(delay)) {
			return
		}
		delay = min(2*delay, maxRetryInterval)
	}
	t := time.NewTicker(n.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		targets := n.members.failedAddrs(time.Now().Add(-failedMemberMemory))
		if ml := n.ml.Load(); ml.NumMembers() <= 1 {
			targets = append(targets, n.cfg.Join...)
		}
		if len(targets) == 0 {
			continue
		}
		if cnt, err := n.ml.Load().Join(targets); cnt == 0 && err != nil {
			n.log.Debug("rejoin failed", "peers", targets, "err", classifyJoinError(err))
		} else if cnt > 0 {
			n.log.Debug("rejoined", "peers", targets, "contacted", cnt)
		}
	}
}

func (n *Node) isJoined() bool {
	select {
	case <-n.joined:
		return true
	default:
		return false
	}
}

// sleep waits d; false when the node stops first.
func (n *Node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

// maintainLoop re-advertises node metadata when the held state changes
// (coalesced: one UpdateNode at a time) and prunes old tombstones.
func (n *Node) maintainLoop() {
	defer n.wg.Done()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.metaDirty:
			if err := n.ml.Load().UpdateNode(updateNodeTimeout); err != nil && n.ctx.Err() == nil {
				n.log.Debug("metadata update not yet gossiped", "err", err)
			}
		case now := <-prune.C:
			n.obs.prune(now)
			n.members.prune(now.Add(-failedMemberMemory))
		}
	}
}

// classifyJoinError tells a key mismatch from an unreachable peer; the
// memberlist errors for the first are cryptic.
func classifyJoinError(err error) error {
	if err == nil {
		return errors.New("no peer answered")
	}
	// memberlist returns a multierror, one line per peer address.
	msg := err.Error()
	var m interface{ WrappedErrors() []error }
	if errors.As(err, &m) {
		var parts []string
		for _, e := range m.WrappedErrors() {
			parts = append(parts, e.Error())
		}
		msg = strings.Join(parts, "; ")
	}
	if isKeyError(msg) {
		return fmt.Errorf("%w (check KeyFile: every site needs the cluster's key in its keyring): %s", ErrKeyMismatch, msg)
	}
	return errors.New(msg)
}

// jitter spreads retries of many nodes: d plus up to 20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
