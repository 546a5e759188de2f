package kube

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// A policy's status: the Accepted condition, observedGeneration,
// services (GlobalPolicy) and lastAccepted, the version that applies
// ({generation, spec}). lastAccepted makes the fallback to the last
// accepted version survive a change of leader: a process that accepted
// nothing of a policy itself reads it back (policies) when the spec is
// rejected.

// policies decodes the cached policy objects for Plan.
func (pc *policyCluster) policies() ([]GlobalPolicy, []HostPolicy) {
	var gps []GlobalPolicy
	for _, u := range pc.list(GlobalPolicyResource) {
		gp := GlobalPolicy{Name: u.GetName(), Generation: u.GetGeneration()}
		if err := decodeSpec(u, &gp.Spec); err != nil {
			gp.DecodeErr = err.Error()
		}
		var spec GlobalPolicySpec
		if gen, ok := pc.lastAccepted(u, &spec); ok {
			gp.LastAccepted = &AcceptedSpec{Generation: gen, Global: &spec}
		}
		gps = append(gps, gp)
	}
	var hps []HostPolicy
	for _, u := range pc.list(HostPolicyResource) {
		hp := HostPolicy{Name: u.GetName(), Generation: u.GetGeneration()}
		if err := decodeSpec(u, &hp.Spec); err != nil {
			hp.DecodeErr = err.Error()
		}
		var spec HostPolicySpec
		if gen, ok := pc.lastAccepted(u, &spec); ok {
			hp.LastAccepted = &AcceptedSpec{Generation: gen, Host: &spec}
		}
		hps = append(hps, hp)
	}
	return gps, hps
}

// decodeSpec reads .spec strictly: unknown fields are an error.
func decodeSpec(u *unstructured.Unstructured, into any) error {
	spec, ok := u.Object["spec"].(map[string]any)
	if !ok {
		return fmt.Errorf("spec: missing or not an object")
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(spec, into, true); err != nil {
		return fmt.Errorf("spec: %w", err)
	}
	return nil
}

// lastAccepted reads status.lastAccepted into spec and returns its
// generation; ok is false when there is none or it cannot be read (it is
// then ignored: the spec alone decides).
func (pc *policyCluster) lastAccepted(u *unstructured.Unstructured, spec any) (int64, bool) {
	la, found, _ := unstructured.NestedMap(u.Object, "status", "lastAccepted")
	if !found {
		return 0, false
	}
	gen, _, _ := unstructured.NestedInt64(la, "generation")
	s, ok := la["spec"].(map[string]any)
	if gen < 1 || !ok {
		return 0, false
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(s, spec, true); err != nil {
		pc.log.Warn("status.lastAccepted is not readable: ignored", "kind", u.GetKind(), "name", u.GetName(), "error", err)
		return 0, false
	}
	return gen, true
}

// writeStatus updates the status of every policy whose status differs
// from want, and files an Event for each change of its Accepted
// condition. It reports whether every write succeeded.
func (pc *policyCluster) writeStatus(ctx context.Context, want map[PolicyKey]PolicyStatus) bool {
	ok := true
	for _, r := range policyResources {
		kind, gvr := r.kind, r.gvr
		for _, u := range pc.list(gvr) {
			st, found := want[PolicyKey{kind, u.GetName()}]
			if !found {
				continue
			}
			obj, changed, condChanged := withStatus(u, st, kind == KindGlobalPolicy)
			if !changed {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, pc.ctl.opts.probeTimeout)
			_, err := pc.dyn.Resource(gvr).UpdateStatus(wctx, obj, metav1.UpdateOptions{FieldManager: "meridian"})
			cancel()
			if err != nil {
				ok = false
				pc.ctl.metrics.statusWrites.WithLabelValues("error").Inc()
				if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
					pc.log.Warn("policy status update failed", "kind", kind, "name", u.GetName(), "error", err)
				}
				continue
			}
			pc.ctl.metrics.statusWrites.WithLabelValues("ok").Inc()
			if condChanged {
				pc.ctl.events.policy(kind, u, st)
			}
		}
	}
	return ok
}

// withStatus returns a copy of u with the wanted status, whether it
// differs from u's (lastTransitionTime aside), and whether the Accepted
// condition itself changed (what an Event reports).
func withStatus(u *unstructured.Unstructured, st PolicyStatus, services bool) (out *unstructured.Unstructured, changed, condChanged bool) {
	var cur struct {
		ObservedGeneration int64              `json:"observedGeneration"`
		Conditions         []metav1.Condition `json:"conditions"`
		Services           *int64             `json:"services"`
	}
	curStatus, _ := u.Object["status"].(map[string]any)
	if curStatus != nil {
		_ = runtime.DefaultUnstructuredConverter.FromUnstructured(curStatus, &cur)
	}
	status := metav1.ConditionFalse
	if st.Accepted {
		status = metav1.ConditionTrue
	}
	cond := metav1.Condition{
		Type: ConditionAccepted, Status: status, Reason: st.Reason,
		Message: truncate(st.Message, 32768), ObservedGeneration: st.ObservedGeneration,
	}
	old := apimeta.FindStatusCondition(cur.Conditions, ConditionAccepted)
	condChanged = old == nil || old.Status != cond.Status || old.Reason != cond.Reason || old.Message != cond.Message ||
		old.ObservedGeneration != cond.ObservedGeneration
	changed = condChanged || cur.ObservedGeneration != st.ObservedGeneration
	if services && (cur.Services == nil || *cur.Services != int64(st.Services)) {
		changed = true
	}
	last := lastAcceptedStatus(st.LastAccepted)
	if curLast, found := curStatus["lastAccepted"]; found != (last != nil) || found && !reflect.DeepEqual(curLast, any(last)) {
		changed = true
	}
	if !changed {
		return nil, false, false
	}
	conds := append([]metav1.Condition(nil), cur.Conditions...)
	cond.LastTransitionTime = metav1.Now()
	apimeta.SetStatusCondition(&conds, cond)
	out = u.DeepCopy()
	m := map[string]any{"observedGeneration": st.ObservedGeneration}
	var cl []any
	for _, c := range conds {
		cm, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&c)
		if err == nil {
			cl = append(cl, cm)
		}
	}
	m["conditions"] = cl
	if services {
		m["services"] = int64(st.Services)
	}
	if last != nil {
		m["lastAccepted"] = last
	}
	out.Object["status"] = m
	return out, true, condChanged
}

// lastAcceptedStatus is status.lastAccepted for a version (nil: none), in
// the form the apiserver returns it, so that an unchanged version
// compares equal.
func lastAcceptedStatus(a *AcceptedSpec) map[string]any {
	if a == nil {
		return nil
	}
	var spec any
	switch {
	case a.Global != nil:
		spec = a.Global
	case a.Host != nil:
		spec = a.Host
	default:
		return nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(spec)
	if err != nil {
		return nil
	}
	return map[string]any{"generation": a.Generation, "spec": m}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
