// Package sites is everything that crosses between Meridian sites: a
// memberlist gossip cluster over which the leader disseminates the
// State, every site shares its health observations, and each follower
// keeps a copy of the last state on disk. (The Kubernetes member-cluster
// watchers live in sites/kube.) It is the only package that imports
// memberlist.
//
// # Membership
//
// Every Meridian process is a Node: a memberlist member whose metadata
// carries its site, role (leader or follower), build version and the
// version of the state it holds. Timing defaults to memberlist's WAN
// profile. Join addresses, names or IPs, are retried with backoff until
// one answers; afterwards failed members (and the Join list, when a node
// finds itself alone) are retried every RejoinInterval, so a partition
// that outlasts memberlist's failure detection still merges back.
//
// Gossip, push/pull and state transfers are encrypted and authenticated
// with AES-GCM under a keyring (KeyFile, primary key first; see ParseKeys
// for the rotation steps). Without a key New refuses, unless Insecure.
// A node with a different key cannot join, and nothing it sends is
// accepted: memberlist drops its packets and streams, and the state
// transfer refuses its requests and cannot open its answers.
//
// # State dissemination
//
// The leader's Publish encodes the State (gslb.State.Encode), keeps it
// compressed in memory, and announces {version, size, SHA-256, publish
// time}: one direct UDP message to every member, plus a named gossip
// broadcast that replaces any older announcement still queued and that
// every node relays on when it is new to it. Announcements are small; the
// state itself (megabytes at 100k services) never travels by gossip. A
// node that hears of a version newer than its own fetches it over TCP
// from the announcing holder, or from any member whose metadata says it
// holds it (transfer.go describes the protocol), verifies the hash and
// the version, decodes it, writes the state file atomically (temp file,
// fsync, rename, fsync of the directory) and only then calls OnState. A
// node one version behind gets a delta instead of the whole state, and
// checks the state it makes against the same hash (delta.go).
//
// Versions (gslb.Version: term, then generation) never go backwards: a
// node accepts only newer ones, and Publish refuses a version that is
// not newer than everything the node holds or has heard of (ErrStale),
// so a new leader takes a higher term (HighestVersion). Two leaders at
// once resolve to the higher term everywhere, the older leader included;
// equal versions with different content resolve by hash.
//
// Push/pull anti-entropy (memberlist's LocalState/MergeRemoteState)
// carries each node's held version, so a node that missed every
// announcement, joined late, or was cut off by a partition learns of the
// newer state at its next exchange and fetches it.
//
// # Health consensus
//
// ShareObservation gossips this site's view of a health target
// (health.Key's text form, up or down, since when, the last error); only
// the newest per key is queued, and the observations of a site travel
// batched in memberlist's compound packets. Other nodes relay new ones
// and hand them to their ObservationSink. Push/pull carries the whole
// observation table, so a site that joins late learns every view. When a
// member leaves or fails, its observations are dropped and, once no
// member of its site remains, the sink forgets the site (health then
// lets its observations expire).
//
// # Static stability
//
// Start reads the state file and calls OnState before it even listens,
// so a follower restarted while every other site is unreachable serves
// its last state at once. A follower never needs the leader to keep
// serving: it holds its state until a newer one arrives, and it serves
// that state to any peer that asks.
//
// # Visibility
//
// Members, Status (for /api/v1/sites) and Metrics (meridian_sites_*):
// members by status with site and role, the state version each member
// holds, transfers, propagation lag, the observation table.
//
// # Files
//
//   - config.go: Config, its defaults and validation; keyring.go: the
//     gossip keys.
//   - node.go: the Node and what it holds; lifecycle.go: Start and the
//     one stop sequence behind Leave and Shutdown; join.go: joining and
//     rejoining.
//   - publish.go: Publish, announcements heard, the state file;
//     fetch.go: fetching and accepting a newer state.
//   - messages.go: the gossip wire formats; delegate.go: memberlist's
//     delegate (messages, push/pull); members.go: the member table and
//     memberlist's events; observations.go: shared health observations.
//   - transfer.go: the state transfer protocol; transfer_client.go,
//     transfer_server.go, transfer_frames.go (sealed frames);
//     transport.go: the gossip port shared by memberlist and transfers;
//     delta.go: deltas from the previous version.
//   - statefile.go, compress.go, logbridge.go, metrics.go: the rest.
package sites
