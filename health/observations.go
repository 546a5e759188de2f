package health

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sources of observations. A source is a string so that new kinds plug in
// without changing this package: the Monitor reports as SourceLocalProbe,
// the gossip layer as SourceSite(name) for each other site, the Kubernetes
// watcher as SourceKubernetes.
const (
	SourceLocalProbe = "local"
	SourceKubernetes = "kubernetes"
)

// SourceSite names the probes of another site.
func SourceSite(name string) string { return "site/" + name }

// Rule combines the probe sources' observations of a target into a
// verdict. Only live sources count (see Forget).
type Rule string

// The rules.
const (
	// RuleLocal: only this site's probes count; remote sites are shown but
	// ignored. Right for a single site, or when every site should answer
	// by its own view of the network.
	RuleLocal Rule = "local"
	// RuleAny: up when at least one source sees it up. Fails over only
	// when the target is down from everywhere.
	RuleAny Rule = "any"
	// RuleMajority (the default): down only when a strict majority of the
	// sources see it down; a tie is up. Moving traffic is the action, so
	// it needs more than half to agree, and one site with a broken uplink
	// among two cannot drain a healthy member.
	RuleMajority Rule = "majority"
	// RuleAll: up only when every source sees it up. Fails over at the
	// first site that cannot reach the target.
	RuleAll Rule = "all"
)

// Rules lists every rule, for validation messages.
var Rules = []Rule{RuleLocal, RuleAny, RuleMajority, RuleAll}

// ParseRule reads a rule name; "" is the default, majority.
func ParseRule(s string) (Rule, error) {
	r := Rule(strings.ToLower(strings.TrimSpace(s)))
	if r == "" {
		return RuleMajority, nil
	}
	if !slices.Contains(Rules, r) {
		return "", fmt.Errorf("must be one of %v, got %q", Rules, s)
	}
	return r, nil
}

// DefaultSourceTTL is how long a forgotten source's observations still
// count: long enough to ride out a gossip flap, short next to the time an
// operator notices a site is gone.
const DefaultSourceTTL = 30 * time.Second

// Observation is one source's view of one target.
type Observation struct {
	Source  string    `json:"source"`
	Up      bool      `json:"up"`
	Since   time.Time `json:"since"` // when the source saw the target enter this state
	Error   string    `json:"error,omitempty"`
	Updated time.Time `json:"updated"` // when the source last reported
}

// ObservationsOptions configure an Observations store.
type ObservationsOptions struct {
	// Rule combines the probe sources; default RuleMajority.
	Rule Rule
	// TTL is how long a source still counts after Forget; default
	// DefaultSourceTTL.
	TTL time.Duration
	// Vetoes are sources that do not vote but can only mark a target down:
	// Kubernetes readiness says "no ready endpoints behind this VIP" even
	// when the VIP still answers probes. nil means {SourceKubernetes}; an
	// empty non-nil slice means none. A target seen only by vetoes that
	// say up is up.
	Vetoes []string
	// OnChange receives the keys whose verdict changed, in batches, on a
	// goroutine of its own. Plan.Services maps them to services.
	OnChange func([]Key)
	// Now is the clock; default time.Now. Tests set it.
	Now func() time.Time
}

// Observations is the health store: what each source says of each target,
// and the verdict the rule makes of it. It is safe for concurrent use.
type Observations struct {
	opts   ObservationsOptions
	vetoes map[string]bool
	notify *batcher[Key]

	mu       sync.RWMutex
	byKey    map[Key][]Observation
	bySource map[string]map[Key]struct{}
	leaving  map[string]*leaving
	closed   bool
}

// leaving is a forgotten source's deadline; the timer purges it.
type leaving struct {
	deadline time.Time
	timer    *time.Timer
}

// NewObservations creates an empty store. Close it when done.
func NewObservations(opts ObservationsOptions) *Observations {
	if opts.Rule == "" {
		opts.Rule = RuleMajority
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultSourceTTL
	}
	if opts.Vetoes == nil {
		opts.Vetoes = []string{SourceKubernetes}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	o := &Observations{
		opts:     opts,
		vetoes:   make(map[string]bool, len(opts.Vetoes)),
		byKey:    make(map[Key][]Observation),
		bySource: make(map[string]map[Key]struct{}),
		leaving:  make(map[string]*leaving),
	}
	for _, v := range opts.Vetoes {
		o.vetoes[v] = true
	}
	if opts.OnChange != nil {
		fn := opts.OnChange
		o.notify = newBatcher(func(keys []Key) {
			slices.SortFunc(keys, compareKeys)
			fn(slices.Compact(keys))
		})
	}
	return o
}

// Rule is the store's rule.
func (o *Observations) Rule() Rule { return o.opts.Rule }

// Observe records that source sees key up or down since at, with the last
// error (may be empty). A source that was forgotten counts again.
func (o *Observations) Observe(source string, key Key, up bool, at time.Time, errMsg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if l := o.leaving[source]; l != nil {
		o.reviveLocked(source, l)
	}
	before := o.verdictLocked(key)
	ob := Observation{Source: source, Up: up, Since: at, Error: errMsg, Updated: o.opts.Now()}
	list := o.byKey[key]
	if i := slices.IndexFunc(list, func(x Observation) bool { return x.Source == source }); i >= 0 {
		list[i] = ob
	} else {
		o.byKey[key] = append(list, ob)
		keys := o.bySource[source]
		if keys == nil {
			keys = make(map[Key]struct{})
			o.bySource[source] = keys
		}
		keys[key] = struct{}{}
	}
	o.changedLocked(key, before)
}

// Remove drops source's observation of key: the source no longer probes
// it (the Monitor calls this when a target leaves the snapshot).
func (o *Observations) Remove(source string, key Key) {
	o.mu.Lock()
	defer o.mu.Unlock()
	before := o.verdictLocked(key)
	if o.removeLocked(source, key) {
		o.changedLocked(key, before)
	}
}

// Forget says source has gone (its site left the gossip cluster): its
// observations count for TTL more, then disappear. Observe from the source
// before then cancels it.
func (o *Observations) Forget(source string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.leaving[source] != nil || o.bySource[source] == nil {
		return
	}
	l := &leaving{deadline: o.opts.Now().Add(o.opts.TTL)}
	l.timer = time.AfterFunc(o.opts.TTL, func() { o.expire(source, l) })
	o.leaving[source] = l
}

// expire purges a forgotten source, unless it came back (l replaced).
func (o *Observations) expire(source string, l *leaving) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.leaving[source] != l {
		return
	}
	// Compare with the source counted, as it was when subscribers last
	// heard: by now the clock may have passed the deadline already.
	now := o.opts.Now()
	counted := func(src string) bool { return src == source || o.liveAt(src, now) }
	for key := range o.bySource[source] {
		before := combine(o.opts.Rule, o.byKey[key], o.vetoes, counted)
		o.removeLocked(source, key)
		o.changedLocked(key, before)
	}
	delete(o.leaving, source)
}

// reviveLocked cancels a Forget: the source reported again, so all its
// observations count again, which may change the verdict of each.
func (o *Observations) reviveLocked(source string, l *leaving) {
	befores := make(map[Key]verdict, len(o.bySource[source]))
	for key := range o.bySource[source] {
		befores[key] = o.verdictLocked(key)
	}
	l.timer.Stop()
	delete(o.leaving, source)
	for key, before := range befores {
		o.changedLocked(key, before)
	}
}

func (o *Observations) removeLocked(source string, key Key) bool {
	list := o.byKey[key]
	i := slices.IndexFunc(list, func(x Observation) bool { return x.Source == source })
	if i < 0 {
		return false
	}
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(o.byKey, key)
	} else {
		o.byKey[key] = list
	}
	if keys := o.bySource[source]; keys != nil {
		delete(keys, key)
		if len(keys) == 0 {
			delete(o.bySource, source)
		}
	}
	return true
}

// verdict is a Verdict's result, comparable for change detection.
type verdict struct{ up, known bool }

func (o *Observations) verdictLocked(key Key) verdict {
	now := o.opts.Now()
	return combine(o.opts.Rule, o.byKey[key], o.vetoes, func(src string) bool { return o.liveAt(src, now) })
}

// liveAt reports whether src counts at now: it was not forgotten, or its
// TTL has not run out yet.
func (o *Observations) liveAt(src string, now time.Time) bool {
	l := o.leaving[src]
	return l == nil || now.Before(l.deadline)
}

func (o *Observations) changedLocked(key Key, before verdict) {
	if o.notify != nil && o.verdictLocked(key) != before {
		o.notify.add(key)
	}
}

// Verdict is the rule's answer for key. known is false when no live
// source has reported it; up is then true, because unknown members are
// answered (see the package comment).
func (o *Observations) Verdict(key Key) (up, known bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	v := o.verdictLocked(key)
	return v.up, v.known
}

// Sources returns every observation of key, live or not, by source name.
func (o *Observations) Sources(key Key) []Observation {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := slices.Clone(o.byKey[key])
	slices.SortFunc(out, func(a, b Observation) int { return cmp.Compare(a.Source, b.Source) })
	return out
}

// Close stops the notifier and the expiry timers.
func (o *Observations) Close() {
	o.mu.Lock()
	o.closed = true
	for _, l := range o.leaving {
		l.timer.Stop()
	}
	o.mu.Unlock()
	if o.notify != nil {
		o.notify.stop()
	}
}

// combine is the rule applied to one target's observations; live says
// which sources count. Vetoes are counted apart: any live veto that says
// down makes the target down whatever the probes say.
func combine(rule Rule, obs []Observation, vetoes map[string]bool, live func(string) bool) verdict {
	var votes, ups, vetoVotes int
	for _, ob := range obs {
		if !live(ob.Source) {
			continue
		}
		if vetoes[ob.Source] {
			if !ob.Up {
				return verdict{up: false, known: true}
			}
			vetoVotes++
			continue
		}
		if rule == RuleLocal && ob.Source != SourceLocalProbe {
			continue
		}
		votes++
		if ob.Up {
			ups++
		}
	}
	if votes == 0 {
		return verdict{up: true, known: vetoVotes > 0}
	}
	switch rule {
	case RuleAll:
		return verdict{up: ups == votes, known: true}
	case RuleMajority:
		return verdict{up: 2*ups >= votes, known: true}
	default: // RuleAny, and RuleLocal with its single vote
		return verdict{up: ups > 0, known: true}
	}
}

func compareKeys(a, b Key) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return slices.Compare(a.Check[:], b.Check[:])
}
