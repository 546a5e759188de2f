// Package kube is the Kubernetes leader's engine: it watches the member
// clusters and the policy custom resources and builds GSLB services from
// them (issue #4). It is the only part of Meridian, with the rest of
// sites/, that imports client-go.
//
// # API
//
//	ctl, err := kube.New(kube.Config{
//		Kubeconfig:    "/etc/meridian/members/kubeconfig", // one context per member cluster
//		Clusters:      []kube.ClusterConfig{{Context: "us-east", Site: "us-east"}, ...},
//		PolicyContext: "",        // with PolicyKubeconfig: the GSLB cluster; both empty: in-cluster
//		Zones:         []string{"gslb.example.com."},
//		Sites:         []string{"us-east", "eu-west", "dc1"},
//		DefaultPolicy: defaults,  // a gslb.Policy with gslb's defaults applied
//		DefaultHealthCheck: hc,   // or nil
//		OnBuild:       func(b kube.Build) { /* b.Services -> gslb.State{Term, Generation, ...} */ },
//		WriteStatus:   elector.IsLeader, // status and Events: the Lease holder only
//		EventNamespace: os.Getenv("POD_NAMESPACE"), // "": no Events
//		EventPod:       os.Getenv("POD_NAME"),
//	})
//	prometheus.MustRegister(ctl.Collectors()...)
//	go ctl.Run(ctx)            // until ctx ends
//	ctl.Reload()               // after the kubeconfig file changed (the caller watches it)
//	ctl.Rebuild()              // e.g. on becoming leader: status is written by the next rebuild
//	ctl.Status()               // []ClusterStatus: stale, synced, last sync, error, Gateway kinds
//	ctl.PolicyClusterStatus()
//
// Build carries Services ([]gslb.Service, sorted by name, members sorted
// by ID, member IDs stable for the same objects), Readiness
// (map[gslb.MemberRef]bool: Kubernetes readiness of every member from a
// member cluster; third-party members are absent), Capacity
// (map[gslb.MemberRef]uint16: the ready share of its endpoints in
// thousandths; absent when not measured), Stale (clusters whose
// objects are last-known), Problems and a Generation that grows by one
// with every delivered build. A build is delivered only when its content
// changed; the receiver gets its own deep copy and may modify it.
//
// The pure core is Plan(*Input) *Output: objects of every cluster,
// policies, the base configuration and the last accepted policies in;
// services, readiness, capacity, policy status and the next accepted
// policies out.
// It does no I/O and is tested as a function (plan_test.go,
// plan_policy_test.go). Its files, one step each: plan.go (Input, Output,
// the passes), policyaccept.go (accept or fall back), policycompile.go,
// policyfields.go and healthcheck.go (a policy's spec to gslb's types),
// judge.go and blame.go (gslb's rules on a policy and on every service it
// shapes), sources.go and routes.go (walking a cluster's objects),
// readiness.go, members.go (services and members), probeports.go,
// annotations.go, names.go. The controller's side: controller.go (the
// rebuild loop), cluster.go (a member cluster's watchers), policywatch.go
// and policystatus.go (the policy objects and their status), events.go,
// elector.go.
//
// Leader election is separate: NewElector(ElectorConfig{...}).Run(ctx)
// campaigns for a coordination.k8s.io Lease in the policy cluster and
// calls OnStartedLeading(ctx, term) with term = spec.leaseTransitions+1,
// which grows with every change of leader: use it as gslb.State.Term.
// Identities default to host name plus a random suffix, so a restarted
// process is a new holder and takes a new term. Deleting the Lease resets
// the counter; the Elector never hands out a lower term within one
// process. The caller either runs the Controller only while leading
// (OnStartedLeading's ctx), or always (warm caches for a fast takeover)
// with WriteStatus: elector.IsLeader and publishing only while leading.
//
// client-go logs through klog; RouteClientLogs sends it to slog.
//
// # Member clusters
//
// Each configured context of the member kubeconfig is one member cluster
// with its own informers (resync 0, transforms that keep only what Plan
// reads: no managedFields, owner references or foreign annotations):
// networking.k8s.io/v1 Ingress, Service, discovery.k8s.io/v1
// EndpointSlice, Namespace, and the Gateway API kinds the cluster serves
// (gateway.networking.k8s.io/v1 Gateway, HTTPRoute, GRPCRoute, TLSRoute,
// TLSRoute also v1alpha2), found by discovery and looked for again every
// DiscoveryInterval. Config.Namespaces and Config.LabelSelector narrow the
// watches. Event handlers only mark the Controller dirty; rebuilds are
// level-triggered (every cache is read again) and debounced: Debounce of
// quiet (150ms), at most MaxDelay (1s) after the first change of a burst.
// Clusters: empty means every context of the file, each its own site.
//
// Reload re-reads the kubeconfig: new contexts start, removed ones stop
// (their objects leave the next build), changed connection settings
// restart that cluster, whose last-known objects serve until the new
// watchers have synced (stale meanwhile); the others are not touched. A
// mapped context missing from the file is listed in Status with the
// reason. The caller watches
// the file (the mounted Secret) and calls Reload, or SetClusters for a new
// context-to-site mapping.
//
// # Resilience
//
// Each cluster is probed (/readyz, every ProbeInterval). An unreachable
// cluster, at start or later, keeps its last-known objects and is marked
// stale (Status, Build.Stale, meridian_kube_cluster_stale); it is retried
// with exponential backoff up to MaxBackoff. When it answers again, a
// fresh set of informers is started and swapped in once synced, so its
// objects are current when it is marked fresh. A slow or dead cluster
// never blocks the others; the first build waits for every cluster's
// caches at most InitialSyncTimeout.
//
// # Sources
//
// An object joins when a GlobalPolicy selects it (all of its
// spec.selector criteria and spec.clusters match; a GlobalPolicy without
// selector takes every object of its clusters) or it carries
// meridian.io/gslb: "true" (then the base policy applies);
// meridian.io/gslb: "false" keeps it out even when selected. Only host
// names inside a configured zone become services (the others are
// Problems and meridian_kube_hosts_outside_zones); wildcard hosts are
// skipped.
//
//   - Ingress: spec.rules[].host; VIPs from status.loadBalancer.ingress[]
//     ip and hostname; backends: the rule's paths' Services, else the
//     default backend.
//   - Service of type LoadBalancer: FQDNs from meridian.io/hostname, else
//     external-dns.alpha.kubernetes.io/hostname (comma-separated); VIPs
//     from status; health port the first spec.ports port; backend: itself.
//   - HTTPRoute, GRPCRoute, TLSRoute: spec.hostnames (none: the hostnames
//     of the parent's listeners) on the status.addresses (IPAddress,
//     Hostname) of every parentRef Gateway that has not rejected the route
//     (status.parents Accepted=False); backends: backendRefs of kind
//     Service.
//
// Per FQDN and cluster, all IP VIPs (IPv4 and IPv6) make one member (ID
// site/first address); each host-name VIP is a CNAME member, or with
// hostnameVIPs: resolve, its addresses (Config.Resolve) once known.
//
// Readiness: a member is ready when any Service behind its objects has a
// ready endpoint in an EndpointSlice (a nil ready condition counts as
// ready, a terminating endpoint does not); ExternalName backends and
// objects without Service backends give no opinion (ready).
//
// Capacity (readiness.go): the ready share of the endpoints behind a
// ready member, in thousandths (gslb.Member.Capacity, which scales its
// weight): ready endpoints over all endpoints of the distinct Services
// behind its objects in its cluster, an endpoint in several slices of one
// Service counted once by its first address. Output.Capacity and
// Build.Capacity hold it; absent when there is nothing to measure (no
// endpoint, no Service backend) and for an unready member. The slim
// EndpointSlice keeps each endpoint's first address and its ready and
// terminating conditions.
//
// Per-object annotations: meridian.io/strategy, meridian.io/ttl (seconds),
// meridian.io/weight (0..65535), meridian.io/priority (0..1000, lower is
// preferred, as gslb.Member.Priority), meridian.io/health-port. Invalid
// values are ignored and reported in Problems.
//
// # Policies
//
// GlobalPolicy and HostPolicy (gslb.meridian.io/v1alpha1, cluster-scoped,
// in the policy cluster) are read with dynamic informers and converted
// with runtime.DefaultUnstructuredConverter (unknown fields are an
// error), then validated. The rules are gslb's, the same the config file
// and every follower apply (gslb.Policy.Validate, gslb.HealthCheck.Validate),
// on the policy laid over the config's defaults, then again on every
// service the policy shapes (the GlobalPolicy, annotations, HostPolicy and
// the members' port together): a policy whose check cannot be probed there
// is rejected, the last policy that sets check fields for that service
// being answerable (blame.go). Problems name the spec field
// (spec.healthCheck.expectStatus[1], spec.topology[0].sites[0]).
//
// A rejected policy gets Accepted=False, reason Invalid, the problems in
// the message and observedGeneration; its last accepted version keeps
// applying, and the message says so. An accepted one gets Accepted=True,
// reason Valid (warnings such as an unknown cluster in the message); a
// GlobalPolicy whose objects are all taken by one that sorts first gets
// reason Conflict. status.services counts the FQDNs a GlobalPolicy
// builds; status.lastAccepted holds the version that applies
// ({generation, spec}), so that a new leader, which accepted nothing
// itself, applies it too (this process's own version wins when it has
// one). Status is written with UpdateStatus, only when it changes, and
// only while WriteStatus allows.
//
// # Events
//
// With Config.EventNamespace set, the Controller writes core/v1 Events
// (client-go's tools/record), only while WriteStatus allows: Accepted and
// Rejected when a policy's Accepted condition changes (the message names
// the field), ClusterStale and ClusterFresh when a member cluster changes
// (regarding the Pod Config.EventPod). All go to EventNamespace, the
// pod's: the apiserver files an Event about a cluster-scoped object only
// in "default" unless its involvedObject names the Event's namespace, so
// a policy's Events carry EventNamespace there.
//
// Precedence, field by field: the base policy (Config.DefaultPolicy,
// Config.DefaultHealthCheck), then the GlobalPolicy that governs the FQDN
// (the first by name among those that selected its objects), then the
// annotations of the first object that sets them, then the HostPolicy of
// the FQDN (the first by name; another for the same FQDN is a Conflict).
// Weight and priority per cluster: default 1 and 0, GlobalPolicy
// spec.sites, annotations, HostPolicy spec.sites. Weights that drain every
// member of a service (gslb.CheckWeights: it would answer NODATA for ever)
// reject the policy that set them, the HostPolicy before the GlobalPolicy,
// naming each weight. A HostPolicy's
// publicAddresses replace the cluster's VIPs (NAT) and the first status IP
// becomes the member's ProbeAddress; its thirdPartyMembers are added, and
// make a service even when no object exposes the FQDN.
//
// Health checks: a policy's healthCheck is a template over the check
// underneath; one that changes the kind drops the inherited fields the
// new kind ignores. The port: the template's port when set (a health-port annotation
// still wins for its member), else the first member's port (the
// annotation, the Service port or listener port, else 443 for https checks
// and TLSRoutes, 80 otherwise); members on another port get ProbePort.
//
// # Metrics
//
// meridian_kube_rebuilds_total, meridian_kube_rebuild_duration_seconds,
// meridian_kube_build_generation, meridian_kube_services,
// meridian_kube_hosts_outside_zones, meridian_kube_build_problems,
// meridian_kube_cluster_stale{cluster},
// meridian_kube_cluster_last_sync_timestamp_seconds{cluster},
// meridian_kube_cluster_errors_total{cluster},
// meridian_kube_cluster_objects{cluster,kind},
// meridian_kube_policies{kind,accepted},
// meridian_kube_policy_status_writes_total{result}.
//
// # Permissions
//
// In member clusters: get/list/watch on ingresses, services,
// endpointslices, namespaces and the Gateway API kinds they serve, and
// GET /readyz (allowed to every authenticated user by default). A kind
// the identity may not list never syncs, so the cluster's new informers
// never replace the old ones and it stays stale (the error is in Status):
// grant every kind the cluster serves. In the policy cluster:
// get/list/watch on globalpolicies and hostpolicies, update on their
// status, get/create/update on the Lease, and create/patch on events in
// EventNamespace.
package kube
