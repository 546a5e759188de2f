package kube

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// judge validates a built service's effective policy and health check
// (judgeService). Each problem is blamed on the policy that made that
// part of the service what it is, and that policy's version is vetoed:
// Plan makes the plan again with it rejected, so that a policy whose
// check cannot be probed is never Accepted and left unprobed.
func (b *builder) judge(svc *gslb.Service, gov *compiledGlobal, hp *compiledHost) {
	probs := judgeService(svc.Name, svc.Policy, svc.HealthCheck, b.pc.sites)
	if len(probs) == 0 {
		return
	}
	var order []vetoKey
	msgs := map[vetoKey][]string{}
	for _, fe := range probs {
		key, fields, ok := blame(strings.HasPrefix(fe.Path, "health_check."), gov, hp)
		if !ok {
			// the configuration's own defaults: its loader's to refuse
			b.problem("%s: %s: %s", svc.Name, fe.Path, fe.Msg)
			continue
		}
		if _, seen := msgs[key]; !seen {
			order = append(order, key)
		}
		msgs[key] = append(msgs[key], specPath(fe.Path, fields.topology != nil)+": "+fe.Msg)
	}
	for _, k := range order {
		if _, done := b.newVetoes[k]; !done {
			b.newVetoes[k] = fmt.Sprintf("%s (as applied to service %s)", strings.Join(msgs[k], "; "), svc.Name)
		}
	}
}

// judgeWeights answers a service whose members all have weight 0
// (gslb.CheckWeights: it would answer NODATA for ever). The policy whose
// weights drained them is vetoed, naming those weights: the HostPolicy
// when any of them is its own, else the GlobalPolicy. Weights from
// annotations alone are not a policy's: reported as a problem.
func (b *builder) judgeWeights(service string, err error, drainedBy []weightSource, gov *compiledGlobal, hp *compiledHost) {
	var candidates []vetoKey
	if hp != nil {
		candidates = append(candidates, hp.vetoKey())
	}
	if gov != nil {
		candidates = append(candidates, gov.vetoKey())
	}
	for _, k := range candidates {
		var paths []string
		for _, w := range drainedBy {
			if w.policy == k.policy.Kind {
				paths = append(paths, w.path)
			}
		}
		if len(paths) == 0 {
			continue
		}
		slices.Sort(paths)
		if _, done := b.newVetoes[k]; !done {
			b.newVetoes[k] = fmt.Sprintf("%s: %v (as applied to service %s)", strings.Join(slices.Compact(paths), ", "), err, service)
		}
		return
	}
	b.problem("%s: %v (weights from annotations)", service, err)
}

// blame picks the policy answerable for a problem of a service's check
// (check) or policy: the last layer that sets fields of that kind (the
// HostPolicy, then the GlobalPolicy); when neither does, the HostPolicy,
// then the GlobalPolicy, that made the service (a HostPolicy's third-party
// members give no port to probe, for example). ok is false when the
// service has no policy at all.
func blame(check bool, gov *compiledGlobal, hp *compiledHost) (vetoKey, *compiledFields, bool) {
	sets := func(f *compiledFields) bool {
		if check {
			return f.hc != nil
		}
		return f.setsPolicy()
	}
	switch {
	case hp != nil && (sets(&hp.fields) || gov == nil || !sets(&gov.fields)):
		return hp.vetoKey(), &hp.fields, true
	case gov != nil:
		return gov.vetoKey(), &gov.fields, true
	}
	return vetoKey{}, nil, false
}
