package sites

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// A node's life: Start, then one stop sequence.
//
// Stopping runs once, in one order: the node's own loops are told to end
// (they start no further rejoin, fetch or metadata update; one already
// under way ends with its context or when memberlist shuts down, which is
// why they are not waited for first), the node leaves the cluster if
// asked to (memberlist gossips the leave and waits for it up to a bound,
// so peers drop the node at once instead of suspecting it and declaring
// it failed; memberlist ignores an update of the node's own record after
// a leave), memberlist shuts down, and the stop returns once every
// goroutine and connection the node started is done.
//
// Leave, Shutdown and the end of Start's ctx all run that sequence, in
// any order, any number of times, from any goroutine: the first call
// decides whether the node leaves, and every later or concurrent call
// waits for the sequence to finish and returns nil. Nothing else may call
// memberlist's Leave or Shutdown: memberlist panics on a Leave after its
// Shutdown ("leave after shutdown"), which is how a SIGTERM'd process
// whose ctx had already stopped the node used to exit with code 2.

// Start loads the state file and hands it to OnState, then starts
// listening and joins the cluster in the background, retrying until a
// peer answers (see Joined). The node runs until Leave or Shutdown, or
// until ctx is done, which is Leave with a bound of a few seconds. A node
// whose Start failed cannot be started again: create another.
func (n *Node) Start(ctx context.Context) error {
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	if n.started {
		return errors.New("sites: node already started")
	}
	n.started = true
	n.ctx, n.cancel = context.WithCancel(context.Background())

	// Static stability: serve the last state before anything else, so a
	// site whose peers are all unreachable still answers.
	if n.cfg.StateFile != "" {
		n.loadStateFile()
	}
	if err := n.resolveAdvertise(); err != nil {
		n.cancel()
		return err
	}

	mlog := log.New(&logBridge{log: n.log, peers: n.peers}, "", 0)
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
			if err := n.Leave(leaveTimeout); err != nil {
				n.log.Debug("leave on context end", "err", err)
			}
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

// Leave stops the node gracefully: it tells the cluster it is going,
// waits at most timeout for that to be gossiped, and shuts down; a
// Shutdown afterwards is not needed (and returns nil). The error is the
// leave's (peers then see the node fail rather than leave) or the
// shutdown's. Any later call returns nil; see the top of this file.
func (n *Node) Leave(timeout time.Duration) error { return n.stop(true, timeout) }

// Shutdown stops the node without leaving: peers will see it fail. After
// Leave, or a first Shutdown, it returns nil.
func (n *Node) Shutdown() error { return n.stop(false, 0) }

// stop runs the stop sequence the first time; later calls wait for it
// (lifeMu) and return nil. ErrNotStarted before Start.
func (n *Node) stop(leave bool, timeout time.Duration) error {
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	if !n.started {
		return ErrNotStarted
	}
	if n.stopped {
		return nil
	}
	n.stopped = true
	n.cancel()
	var errs []error
	// nil when Start failed before memberlist ran.
	if ml := n.ml.Load(); ml != nil {
		if leave {
			if err := ml.Leave(timeout); err != nil {
				errs = append(errs, fmt.Errorf("sites: leave: %w", err))
			}
		}
		if err := ml.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("sites: shutdown: %w", err))
		}
	}
	n.wg.Wait()
	if n.tr != nil {
		n.tr.wait()
	}
	return errors.Join(errs...)
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

// jitter spreads retries of many nodes: d plus up to 20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
