package sites

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	// ResolveAdvertise, when set, gives AdvertiseAddr and AdvertisePort
	// at Start, after the state file is served and before gossip
	// listens: an address known only at run time, such as the external
	// address of a pod's own LoadBalancer Service. See resolveAdvertise.
	ResolveAdvertise func(ctx context.Context) (addr string, port int, err error)
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
	deltaOverride func([]byte) []byte // replaces the served compressed delta
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
	if c.ResolveAdvertise != nil && c.AdvertiseAddr != "" {
		bad("ResolveAdvertise", "conflicts with AdvertiseAddr: give one")
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
