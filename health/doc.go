// Package health probes the members of GSLB services and says which of
// them are up.
//
// The pieces, each in its own file:
//
//   - Check (check.go): a gslb.HealthCheck compiled for probing. The rule
//     (defaults, limits, messages) is gslb.HealthCheck's Defaults and
//     Validate, shared with the config loader, the Kubernetes policy
//     compiler and followers; Compile applies it and parses the texts.
//     A Target (target.go) is one probed address and port plus a
//     compiled Check; its Key is comparable, so every service whose members
//     resolve to the same (address, port, check) shares one prober.
//   - Prober (prober.go, tcp.go, http.go): one method, Probe(ctx) error.
//     A failure is a *ProbeError carrying a Reason (timeout, refused, tls,
//     status, body, other) for metrics and the status list.
//   - Monitor (monitor.go, schedule.go, state.go): one scheduler goroutine
//     runs every target on its jittered interval, or its fast_interval
//     while the target is in doubt (a failure while up, a success while
//     down: tracker.inDoubt), with at most one probe in flight per target
//     and a global bound on concurrent probes, applies the rise/fall
//     thresholds, and follows the gslb snapshot through SetTargets.
//   - Observations (observations.go): the health store. Local probes are one
//     source; other sites and Kubernetes readiness are others, fed through
//     Observe and Forget. A Rule (local, any, majority, all) combines them
//     into one verdict per target.
//   - Plan and View (plan.go, view.go): turn a gslb.State into targets and
//     answer gslb.HealthView from the verdicts, so gslb.NewSnapshot sees
//     health without knowing how it was measured.
//   - Metrics (metrics.go) and Status (status.go): what an operator sees.
//
// # Unknown counts as up
//
// A target is "unknown" from the moment it is added until rise consecutive
// successes make it up or fall consecutive failures make it down. Unknown
// members are answered as if up: gslb.Select already assumes that for
// members without health, a freshly started server would otherwise answer
// nothing for a probe interval or two, and a new service is normally added
// because it works. A member that is really down leaves the answers after
// fall probes, as it would from "up".
//
// # Wiring
//
//	obs := health.NewObservations(health.ObservationsOptions{OnChange: rebuild})
//	mon := health.NewMonitor(health.Options{Observations: obs, Metrics: m})
//	plan, err := health.NewPlan(state, health.PlanOptions{Metrics: m}) // err: refused checks, a bug upstream
//	mon.SetTargets(plan.Targets())
//	snap, _ := gslb.NewSnapshot(state, loc, health.NewView(plan, obs))
//
// On every new State: build the plan, call SetTargets, then build the
// snapshot; in that order a target whose check changed only in interval,
// fast_interval, timeout, rise, fall or jitter brings its verdict to the new key before
// the snapshot reads it. rebuild gets the keys whose verdict changed;
// plan.Services(keys) names the services to recompile. Each later State
// is planned with plan.Next(state, opts) and compiled with
// snap.Next(state, loc, view): both keep what did not change, and when
// next.SameTargets(plan) the monitor needs no SetTargets. The Monitor's own
// OnChange (state changes with probe counts and errors) is what a gossip
// publisher would send to other sites, which feed their Observations
// through Observe(SourceSite(name), ...) and Forget.
//
// Lock order: Monitor.mu, then Observations.mu. Callbacks (OnChange) run on
// their own goroutine, never under either lock, so they may call back into
// the Monitor or the Observations.
package health
