package kube

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// Event reasons.
const (
	EventAccepted     = "Accepted"     // a policy's new version is accepted
	EventRejected     = "Rejected"     // a policy's new version is rejected
	EventClusterStale = "ClusterStale" // a member cluster's objects are last-known
	EventClusterFresh = "ClusterFresh" // a stale member cluster is current again
)

// eventMessageLimit keeps a message within what events.k8s.io/v1 accepts.
const eventMessageLimit = 1024

// events files the Controller's Kubernetes Events (client-go's
// tools/record: core/v1 Events, aggregated and rate-limited) in the
// policy cluster, all in one namespace, and only while the Controller may
// write status (the Lease holder). A nil *events files nothing.
//
// The apiserver files an Event about a cluster-scoped object (a policy)
// only in "default" unless the Event's involvedObject names a namespace,
// and the two must match (core/v1 Event validation); so a policy's Events
// name it with the Events' namespace. Member clusters are no objects of
// the policy cluster: their Events regard this process's Pod, so that
// `kubectl describe pod` shows them.
type events struct {
	ns          string
	pod         string
	component   string
	may         func() bool
	core        corev1client.CoreV1Interface
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
}

// newEvents prepares the Events of cfg (nil when it wants none); may says
// whether this process may file them now (options.mayWrite).
func newEvents(cfg *Config, rc *rest.Config, may func() bool) (*events, error) {
	if cfg.EventNamespace == "" {
		return nil, nil
	}
	core, err := corev1client.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: events: %w", err)
	}
	e := &events{ns: cfg.EventNamespace, pod: cfg.EventPod, may: may, core: core}
	if e.pod == "" {
		e.pod, _ = os.Hostname() // a pod's host name is its name
	}
	e.component = cfg.EventComponent
	if e.component == "" {
		e.component = "meridian"
	}
	return e, nil
}

// start sends the Events to the apiserver, until stop. Call it before
// any goroutine that files Events starts.
func (e *events) start() {
	if e != nil {
		e.broadcaster = record.NewBroadcaster()
		e.recorder = e.broadcaster.NewRecorder(runtime.NewScheme(), corev1.EventSource{Component: e.component, Host: e.pod})
		e.broadcaster.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: e.core.Events("")})
	}
}

// stop drops the Events not sent yet and ends the sender.
func (e *events) stop() {
	if e != nil && e.broadcaster != nil {
		e.broadcaster.Shutdown()
	}
}

// policy reports a change of a policy's Accepted condition; the message
// names the field at fault.
func (e *events) policy(kind string, u *unstructured.Unstructured, st PolicyStatus) {
	if e == nil || e.recorder == nil {
		return
	}
	ref := &corev1.ObjectReference{
		APIVersion: GlobalPolicyResource.GroupVersion().String(), Kind: kind,
		Name: u.GetName(), UID: u.GetUID(), Namespace: e.ns,
	}
	typ, reason := corev1.EventTypeNormal, EventAccepted
	if !st.Accepted {
		typ, reason = corev1.EventTypeWarning, EventRejected
	}
	e.recorder.Eventf(ref, typ, reason, "generation %d: %s", st.ObservedGeneration, truncate(st.Message, eventMessageLimit-32))
}

// cluster reports a member cluster going stale or fresh; only the Lease
// holder writes it.
func (e *events) cluster(st ClusterStatus) {
	if e == nil || e.recorder == nil || !e.may() {
		return
	}
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: e.pod, Namespace: e.ns}
	if st.Stale {
		e.recorder.Eventf(ref, corev1.EventTypeWarning, EventClusterStale,
			"member cluster %s (site %s) is stale, its last-known objects are served: %s", st.Name, st.Site, truncate(st.Error, eventMessageLimit-160))
		return
	}
	e.recorder.Eventf(ref, corev1.EventTypeNormal, EventClusterFresh, "member cluster %s (site %s) is fresh again", st.Name, st.Site)
}
