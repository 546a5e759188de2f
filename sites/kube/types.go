package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Annotations read on member-cluster objects (Ingress, Service, routes).
const (
	// AnnotationGSLB "true" opts an object in without a GlobalPolicy (the
	// base policy applies); "false" opts it out even when a GlobalPolicy
	// selects it.
	AnnotationGSLB = "meridian.io/gslb"
	// AnnotationHostname lists the FQDNs of a LoadBalancer Service,
	// comma-separated. Ingresses and routes use their own hosts.
	AnnotationHostname = "meridian.io/hostname"
	// AnnotationExternalDNSHostname means the same as AnnotationHostname.
	AnnotationExternalDNSHostname = "external-dns.alpha.kubernetes.io/hostname"
	// Per-object overrides: strategy, TTL (seconds), weight and priority
	// of this cluster's member, port to probe.
	AnnotationStrategy   = "meridian.io/strategy"
	AnnotationTTL        = "meridian.io/ttl"
	AnnotationWeight     = "meridian.io/weight"
	AnnotationPriority   = "meridian.io/priority"
	AnnotationHealthPort = "meridian.io/health-port"

	annotationPrefix = "meridian.io/"
)

// The policy custom resources: group gslb.meridian.io, version v1alpha1,
// both cluster-scoped, in the policy (GSLB) cluster.
var (
	GlobalPolicyResource = schema.GroupVersionResource{Group: "gslb.meridian.io", Version: "v1alpha1", Resource: "globalpolicies"}
	HostPolicyResource   = schema.GroupVersionResource{Group: "gslb.meridian.io", Version: "v1alpha1", Resource: "hostpolicies"}
)

// Policy kinds, as in PolicyKey.Kind.
const (
	KindGlobalPolicy = "GlobalPolicy"
	KindHostPolicy   = "HostPolicy"
)

// policyResources pairs each policy kind with its resource.
var policyResources = []struct {
	kind string
	gvr  schema.GroupVersionResource
}{{KindGlobalPolicy, GlobalPolicyResource}, {KindHostPolicy, HostPolicyResource}}

// Object kinds a GlobalPolicy may select (spec.selector.kinds).
const (
	KindIngress   = "Ingress"
	KindService   = "Service"
	KindHTTPRoute = "HTTPRoute"
	KindGRPCRoute = "GRPCRoute"
	KindTLSRoute  = "TLSRoute"
)

var objectKinds = []string{KindIngress, KindService, KindHTTPRoute, KindGRPCRoute, KindTLSRoute}

// Condition type and reasons written to the policies' status.
const (
	ConditionAccepted = "Accepted"
	ReasonValid       = "Valid"
	ReasonInvalid     = "Invalid"
	ReasonConflict    = "Conflict"
)

// GlobalPolicySpec is the spec of a GlobalPolicy (see the API contract in
// doc.go). Optional numbers are pointers so that an unset field can be
// told from a zero.
type GlobalPolicySpec struct {
	Selector *PolicySelector `json:"selector,omitempty"`
	Clusters []string        `json:"clusters,omitempty"`
	Sites    []ClusterSite   `json:"sites,omitempty"`
	PolicyFields
}

// HostPolicySpec is the spec of a HostPolicy: overrides for one FQDN and
// members outside Kubernetes.
type HostPolicySpec struct {
	FQDN              string             `json:"fqdn"`
	Sites             []HostClusterSite  `json:"sites,omitempty"`
	ThirdPartyMembers []ThirdPartyMember `json:"thirdPartyMembers,omitempty"`
	PolicyFields
}

// PolicySelector says which member-cluster objects a GlobalPolicy takes.
// All given criteria must match.
type PolicySelector struct {
	ObjectSelector    *metav1.LabelSelector `json:"objectSelector,omitempty"`
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	Namespaces        []string              `json:"namespaces,omitempty"`
	Kinds             []string              `json:"kinds,omitempty"`
}

// ClusterSite is the weight and priority of one member cluster.
type ClusterSite struct {
	Cluster  string `json:"cluster"`
	Weight   *int64 `json:"weight,omitempty"`
	Priority *int64 `json:"priority,omitempty"`
}

// HostClusterSite is ClusterSite plus the public (NAT) addresses answered
// instead of the cluster's status addresses.
type HostClusterSite struct {
	Cluster         string   `json:"cluster"`
	Weight          *int64   `json:"weight,omitempty"`
	Priority        *int64   `json:"priority,omitempty"`
	PublicAddresses []string `json:"publicAddresses,omitempty"`
}

// ThirdPartyMember is a member that lives outside Kubernetes.
type ThirdPartyMember struct {
	Site         string   `json:"site"`
	Addresses    []string `json:"addresses,omitempty"`
	Hostname     string   `json:"hostname,omitempty"`
	Weight       *int64   `json:"weight,omitempty"`
	Priority     *int64   `json:"priority,omitempty"`
	ProbeAddress string   `json:"probeAddress,omitempty"`
	// ProbePort replaces the check's port for this member (a port
	// mapping behind NAT), as a file member's probe_port.
	ProbePort *int64 `json:"probePort,omitempty"`
}

// PolicyFields are shared by GlobalPolicy and HostPolicy; a set field
// overrides the policy underneath. They are the keys of the config
// file's services[].policy (camelCase here) plus the health check and
// hostnameVIPs.
type PolicyFields struct {
	Strategy    string `json:"strategy,omitempty"`
	TTL         *int64 `json:"ttl,omitempty"`
	DegradedTTL *int64 `json:"degradedTTL,omitempty"`
	MinUp       *int64 `json:"minUp,omitempty"`
	Answers     *int64 `json:"answers,omitempty"`
	// GeoTieKm is the geo tie band in whole km (the file's geo_tie_km;
	// Kubernetes API conventions avoid floats); 0 means the default.
	GeoTieKm *int64 `json:"geoTieKm,omitempty"`
	// LatencyTieMs is the latency strategy's tie band in milliseconds
	// (the file's latency_tie_ms); 0 means the default.
	LatencyTieMs *int64 `json:"latencyTieMs,omitempty"`
	// Topology replaces the rules underneath as a whole (a list).
	Topology    []TopologyRuleSpec `json:"topology,omitempty"`
	HashMask    *MaskSpec          `json:"hashMask,omitempty"`
	HealthCheck *HealthCheckSpec   `json:"healthCheck,omitempty"`
	Persistence *PersistenceSpec   `json:"persistence,omitempty"`
	// Load replaces the load policy underneath as a whole (as topology
	// does): a field it leaves out takes gslb's default, not the value
	// underneath; an empty load turns shedding off.
	Load         *LoadSpec         `json:"load,omitempty"`
	DownResponse *DownResponseSpec `json:"downResponse,omitempty"`
	HostnameVIPs string            `json:"hostnameVIPs,omitempty"`
}

// TopologyRuleSpec maps clients (by network, country or continent) to an
// ordered list of sites, as a file's policy.topology rule.
type TopologyRuleSpec struct {
	CIDRs      []string `json:"cidrs,omitempty"`
	Countries  []string `json:"countries,omitempty"`
	Continents []string `json:"continents,omitempty"`
	Sites      []string `json:"sites"`
}

// MaskSpec is a client-subnet mask per family; a field left out keeps the
// mask underneath.
type MaskSpec struct {
	IPv4 *int64 `json:"ipv4,omitempty"`
	IPv6 *int64 `json:"ipv6,omitempty"`
}

// HealthCheckSpec is a health check template; set fields override the
// base configuration's default check.
type HealthCheckSpec struct {
	Kind          string   `json:"kind,omitempty"`
	Port          *int64   `json:"port,omitempty"`
	Path          string   `json:"path,omitempty"`
	Method        string   `json:"method,omitempty"`
	Host          string   `json:"host,omitempty"`
	SNI           string   `json:"sni,omitempty"`
	BodyContains  string   `json:"bodyContains,omitempty"`
	ExpectStatus  []string `json:"expectStatus,omitempty"`
	TLSSkipVerify *bool    `json:"tlsSkipVerify,omitempty"`
	// CAPEM is the PEM text of the CA certificates that sign the
	// members' certificates (https), as the file's ca_file holds them.
	CAPEM    string `json:"caPEM,omitempty"`
	Interval string `json:"interval,omitempty"`
	// FastInterval is the re-probe interval while a member's state is in
	// doubt (gslb.HealthCheck.FastInterval).
	FastInterval string `json:"fastInterval,omitempty"`
	Timeout      string `json:"timeout,omitempty"`
	Rise         *int64 `json:"rise,omitempty"`
	Fall         *int64 `json:"fall,omitempty"`
	// Jitter is a percentage ("10%"), a fraction ("0.1"), a duration
	// ("250ms") or "0".
	Jitter string `json:"jitter,omitempty"`
	// LoadFrom is where a successful probe reads the member's load
	// (gslb.HealthCheck.LoadFrom): "header:<name>", "json:<path>" or
	// "body", each may follow "capacity:".
	LoadFrom string `json:"loadFrom,omitempty"`
}

// PersistenceSpec turns site persistence on or off.
type PersistenceSpec struct {
	Enabled  *bool  `json:"enabled,omitempty"`
	IPv4Mask *int64 `json:"ipv4Mask,omitempty"`
	IPv6Mask *int64 `json:"ipv6Mask,omitempty"`
}

// LoadSpec is a service's load shedding (the file's policy.load, see
// gslb.LoadPolicy). The watermarks are strings holding decimal numbers
// ("0.8", "80", "1e3"), as Kubernetes API conventions avoid floats; the
// durations are Go durations ("30s", "10m"). Set, it replaces the load
// policy underneath as a whole, like topology: a field left out takes
// gslb's default (hardLimit high + (high - low), maxAge 30s, stickyFor
// 30m, matchLabel site, matchOn site), not the value underneath.
type LoadSpec struct {
	Low        string `json:"low,omitempty"`
	High       string `json:"high,omitempty"`
	HardLimit  string `json:"hardLimit,omitempty"`
	MaxAge     string `json:"maxAge,omitempty"`
	StickyFor  string `json:"stickyFor,omitempty"`
	Prometheus string `json:"prometheus,omitempty"`
	MatchLabel string `json:"matchLabel,omitempty"`
	MatchOn    string `json:"matchOn,omitempty"`
	// SpareWeights scales each member's weight by its spare capacity
	// (the file's spare_weights).
	SpareWeights bool `json:"spareWeights,omitempty"`
}

// DownResponseSpec is the answer when nothing is healthy.
type DownResponseSpec struct {
	Type      string   `json:"type"`
	Addresses []string `json:"addresses,omitempty"`
}

// Hostname VIP modes (spec.hostnameVIPs).
const (
	HostnameVIPsCNAME   = "cname"
	HostnameVIPsResolve = "resolve"
)

// PolicyKey names one policy object.
type PolicyKey struct {
	Kind string // KindGlobalPolicy or KindHostPolicy
	Name string
}

func (k PolicyKey) String() string { return k.Kind + "/" + k.Name }

// GlobalPolicy is one GlobalPolicy object as the build sees it.
// DecodeErr, when not empty, says why the object could not be read into
// Spec (the policy is then invalid). LastAccepted is what the object's
// status.lastAccepted holds (nil: nothing, or unreadable): the version a
// leader wrote, which applies while the spec is rejected and this process
// has accepted nothing of the policy itself (it just took over).
type GlobalPolicy struct {
	Name         string
	Generation   int64
	Spec         GlobalPolicySpec
	DecodeErr    string
	LastAccepted *AcceptedSpec
}

// HostPolicy is one HostPolicy object as the build sees it.
type HostPolicy struct {
	Name         string
	Generation   int64
	Spec         HostPolicySpec
	DecodeErr    string
	LastAccepted *AcceptedSpec
}

// AcceptedSpec is the last version of a policy that passed validation; it
// keeps applying while a newer version is rejected.
type AcceptedSpec struct {
	Generation int64
	Global     *GlobalPolicySpec
	Host       *HostPolicySpec
}

// PolicyStatus is what the build says about one policy; the controller
// writes it to the object's status.
type PolicyStatus struct {
	Accepted           bool
	Reason             string
	Message            string
	ObservedGeneration int64
	// Services is how many FQDNs the policy builds (GlobalPolicy) or
	// overrides (HostPolicy, 0 or 1).
	Services int
	// LastAccepted is the version that applies (the spec itself when it
	// is accepted, else the last accepted one), written to
	// status.lastAccepted; nil: none.
	LastAccepted *AcceptedSpec
}
