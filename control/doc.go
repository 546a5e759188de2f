// Package control runs one serve process: it is the one place where the
// configuration file's State, the Kubernetes builds, the leader's State
// (on a follower), the admin overrides and health are merged into the
// next Snapshot (plan.go, the "plan" step of external-dns), and the one
// place a State's Term and Generation are decided and set (nextVersion,
// leaderTerm, versioned).
//
//	plan.go       the merge and the versioning rules
//	publisher.go  Publisher: publishes every snapshot, owns the health monitor
//	admin.go      the admin API's overrides, laid over the file's
//	gossip.go     the gossip member: a leader publishes, a follower serves
//	kube.go       the Kubernetes leader: builds, Lease election
//	reload.go     reloads on SIGHUP and file changes, one at a time
//	watcher.go    the debounced file watcher behind reload
//	server.go     Server: start, readiness and the ordered shutdown
//	metrics.go    meridian_config_* and meridian_build_info
//
// Dependencies point one way: config <- control <- httpapi <- cmd. The
// HTTP API reads a Server through its accessors; the Server gets its
// handler from Options.API, so control never imports httpapi.
package control
