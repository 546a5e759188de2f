package health

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/meridian-gslb/meridian/gslb"
)

// Next plans st, a State that follows the one prev was made from, with
// the same opts (their functions cannot be compared: a caller that
// changes them makes a NewPlan). Services Equal to prev's
// (gslb.MatchServices) keep their targets as prev planned them; only the
// new and changed ones are compiled. When no target comes or goes, the
// new plan shares prev's targets (SameTargets) and the monitor has
// nothing to do. The error is NewPlan's, for every refused service.
func (prev *Plan) Next(st *gslb.State, opts PlanOptions) (*Plan, error) {
	if prev == nil || st == nil {
		return NewPlan(st, opts)
	}
	match := gslb.MatchServices(prev.state, st)
	p := &Plan{
		state:    st,
		targets:  prev.targets,
		services: prev.services.Clone(),
		users:    prev.users,
		refused:  maps.Clone(prev.refused),
	}
	e := planEdit{p: p, prev: prev}
	pl := planner{opts: opts}
	kept := make([]bool, len(prev.state.Services))
	changed := map[string]bool{}
	var pc gslb.Pacer
	for i := range st.Services {
		pc.Step()
		if j := match[i]; j >= 0 {
			kept[j] = true
			continue
		}
		svc := &st.Services[i]
		changed[svc.Name] = true
		delete(p.refused, svc.Name)
		p.services.Delete(svc.Name)
		sp, err := pl.plan(svc, e.addTarget)
		if err != nil {
			p.refused[svc.Name] = err
		}
		if sp != nil {
			p.services.Set(svc.Name, sp)
		}
		old, _ := prev.services.Get(svc.Name)
		e.replace(svc.Name, old, sp)
	}
	// Services of prev that st no longer has.
	for j, k := range kept {
		pc.Step()
		if name := prev.state.Services[j].Name; !k && !changed[name] {
			p.services.Delete(name)
			delete(p.refused, name)
			old, _ := prev.services.Get(name)
			e.replace(name, old, nil)
		}
	}
	e.finish()
	opts.Metrics.setRefused(len(p.refused))
	var errs []error
	for _, name := range p.Refused() {
		errs = append(errs, fmt.Errorf("service %s: health check: %w", name, p.refused[name]))
	}
	return p, errors.Join(errs...)
}

// SameTargets reports whether p and q probe the same targets because
// one was made from the other by Next and no target came or went: then
// the monitor needs no SetTargets.
func (p *Plan) SameTargets(q *Plan) bool {
	return p != nil && q != nil && p.targets.id == q.targets.id
}

// planEdit changes the shared maps of a plan made by Next, copying each
// the first time it changes: prev, served until the new plan replaces
// it, is read concurrently and must not change.
type planEdit struct {
	p, prev    *Plan
	ownTargets bool
	// gone and come are the services that stop and start using each
	// target.
	gone map[Key]map[string]bool
	come map[Key][]string
}

// addTarget adds t unless the plan has it.
func (e *planEdit) addTarget(t Target) {
	if _, ok := e.p.targets.m[t.key]; ok {
		return
	}
	e.ownTargetSet()
	e.p.targets.m[t.key] = t
}

// ownTargetSet gives the plan a copy of prev's targets to change.
func (e *planEdit) ownTargetSet() {
	if !e.ownTargets {
		e.p.targets = newTargetSet(maps.Clone(e.prev.targets.m))
		e.ownTargets = true
	}
}

// replace moves service name from old's targets to sp's (either nil)
// in the users index. The lists change in finish, each once, however
// many services come and go.
func (e *planEdit) replace(name string, old, sp *servicePlan) {
	var before, after []Key
	if old != nil {
		before = old.distinctKeys()
	}
	if sp != nil {
		after = sp.distinctKeys()
	}
	if slices.Equal(before, after) {
		return // the usual edit (a TTL, a weight): same targets
	}
	if e.gone == nil {
		e.gone, e.come = map[Key]map[string]bool{}, map[Key][]string{}
	}
	for _, k := range before {
		if !slices.Contains(after, k) {
			if e.gone[k] == nil {
				e.gone[k] = map[string]bool{}
			}
			e.gone[k][name] = true
		}
	}
	for _, k := range after {
		if !slices.Contains(before, k) {
			e.come[k] = append(e.come[k], name)
		}
	}
}

// finish writes the users lists that replace changed (new slices: the
// old ones are prev's), removes the targets no service uses any more,
// and gives the plan prev's targets back when it ends with the same set.
func (e *planEdit) finish() {
	p := e.p
	if len(e.gone)+len(e.come) > 0 {
		p.users = maps.Clone(e.prev.users)
	}
	for k, names := range e.gone {
		p.users[k] = slices.DeleteFunc(slices.Clone(p.users[k]), func(s string) bool { return names[s] })
	}
	for k, names := range e.come {
		p.users[k] = append(slices.Clip(p.users[k]), names...)
	}
	for k := range e.gone {
		if len(p.users[k]) == 0 {
			delete(p.users, k)
			e.ownTargetSet()
			delete(p.targets.m, k)
		}
	}
	if e.ownTargets && len(p.targets.m) == len(e.prev.targets.m) {
		for k := range p.targets.m {
			if _, ok := e.prev.targets.m[k]; !ok {
				return
			}
		}
		p.targets = e.prev.targets
	}
}
