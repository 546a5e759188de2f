package sites

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

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
