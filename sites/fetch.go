package sites

import (
	"errors"
	"slices"
	"time"
)

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
		// Offer the held state as a delta's base; a delta that fails is
		// followed at once by a whole transfer from the same holder.
		base := n.cur.Load()
		f, err := n.fetch(n.ctx, addr, want, base, true)
		if errors.Is(err, errDelta) {
			n.metrics.deltaRefused()
			n.log.Warn("state delta refused; fetching the whole state", "from", src, "version", want.Version, "err", err)
			f, err = n.fetch(n.ctx, addr, want, base, false)
		}
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
	h := &held{ann: f.ann, gz: f.gz, received: now, st: f.st, delta: f.delta}
	h.ann.Holder = n.cfg.NodeName
	var lag time.Duration
	if !f.ann.Published.IsZero() {
		lag = now.Sub(f.ann.Published)
	}
	// Counted before the state shows: whoever sees the new version (a
	// test, a scrape after a status read) sees the fetch that brought it.
	n.metrics.accepted(f.ann, lag)
	n.metrics.fetched(f.kind(), f.wire)
	n.cur.Store(h)
	n.writeStateFile(f.raw)
	n.markMetaDirty()
	n.log.Info("accepted state", "version", f.ann.Version, "origin", f.ann.Origin, "bytes", f.ann.Size,
		"transfer", f.kind(), "wire_bytes", f.wire, "lag", lag.Round(time.Millisecond))
	n.onStateMu.Lock()
	n.acceptMu.Unlock()
	defer n.onStateMu.Unlock()
	if n.cfg.OnState != nil {
		n.cfg.OnState(f.st)
	}
}
