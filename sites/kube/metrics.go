package kube

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Controller's Prometheus metrics, all prefixed
// meridian_kube_. Cluster series carry the cluster name (tens, not
// thousands).
type metrics struct {
	rebuilds        prometheus.Counter
	rebuildSeconds  prometheus.Histogram
	generation      prometheus.Gauge
	services        prometheus.Gauge
	outsideZones    prometheus.Gauge
	problems        prometheus.Gauge
	clusterStale    *prometheus.GaugeVec
	clusterLastSync *prometheus.GaugeVec
	clusterErrors   *prometheus.CounterVec
	clusterObjects  *prometheus.GaugeVec
	policies        *prometheus.GaugeVec
	statusWrites    *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meridian_kube_rebuilds_total",
			Help: "Rebuilds of the GSLB services from the member clusters' objects and the policies (debounced).",
		}),
		rebuildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meridian_kube_rebuild_duration_seconds",
			Help:    "Time to build the GSLB services from the cached objects.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_kube_build_generation",
			Help: "Generation of the last build delivered (it grows when the content changes).",
		}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_kube_services",
			Help: "GSLB services in the last build.",
		}),
		outsideZones: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_kube_hosts_outside_zones",
			Help: "Host names of opted-in objects that are in no configured zone (not served).",
		}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_kube_build_problems",
			Help: "Problems noted by the last build (bad annotations, hosts outside the zones, dropped members).",
		}),
		clusterStale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_kube_cluster_stale",
			Help: "1 when a member cluster's objects are last-known (apiserver unreachable or caches not synced), else 0.",
		}, []string{"cluster"}),
		clusterLastSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_kube_cluster_last_sync_timestamp_seconds",
			Help: "Last time a member cluster's caches were known to be current (Unix time).",
		}, []string{"cluster"}),
		clusterErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_kube_cluster_errors_total",
			Help: "Failed probes, discoveries, syncs and watches of a member cluster.",
		}, []string{"cluster"}),
		clusterObjects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_kube_cluster_objects",
			Help: "Cached objects of a member cluster, by kind.",
		}, []string{"cluster", "kind"}),
		policies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_kube_policies",
			Help: "Policy objects by kind and whether they are accepted.",
		}, []string{"kind", "accepted"}),
		statusWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_kube_policy_status_writes_total",
			Help: "Policy status updates, by result (ok, error).",
		}, []string{"result"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.rebuilds, m.rebuildSeconds, m.generation, m.services, m.outsideZones, m.problems,
		m.clusterStale, m.clusterLastSync, m.clusterErrors, m.clusterObjects, m.policies, m.statusWrites,
	}
}

func (m *metrics) clusterStatus(st ClusterStatus) {
	v := 0.0
	if st.Stale {
		v = 1
	}
	m.clusterStale.WithLabelValues(st.Name).Set(v)
	if !st.LastSync.IsZero() {
		m.clusterLastSync.WithLabelValues(st.Name).Set(float64(st.LastSync.UnixNano()) / 1e9)
	}
}

func (m *metrics) forgetCluster(name string) {
	m.clusterStale.DeleteLabelValues(name)
	m.clusterLastSync.DeleteLabelValues(name)
	m.clusterErrors.DeleteLabelValues(name)
	m.clusterObjects.DeletePartialMatch(prometheus.Labels{"cluster": name})
}

func (m *metrics) objects(co *ClusterObjects) {
	set := func(kind string, n int) { m.clusterObjects.WithLabelValues(co.Name, kind).Set(float64(n)) }
	set(KindIngress, len(co.Ingresses))
	set(KindService, len(co.Services))
	set(kindEndpointSlice, len(co.EndpointSlices))
	set(kindNamespace, len(co.Namespaces))
	set(kindGateway, len(co.Gateways))
	set(KindHTTPRoute, len(co.HTTPRoutes))
	set(KindGRPCRoute, len(co.GRPCRoutes))
	set(KindTLSRoute, len(co.TLSRoutes))
}
