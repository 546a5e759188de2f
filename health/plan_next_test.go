package health

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// TestPlanNextMatchesNewPlan: after rounds of random edits, each planned
// with Next from the plan before, the plan is what NewPlan makes of the
// same State, and the plan each round started from is unchanged.
func TestPlanNextMatchesNewPlan(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	st := scaleState(scale.Options{Services: 300, Sites: 4, Members: 3, Check: scale.CheckSharedTCP})
	p, err := NewPlan(st, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 60 {
		next := editChecks(r, st, 1+r.IntN(20))
		got, err := p.Next(next, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := NewPlan(next, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before, _ := NewPlan(st, PlanOptions{})
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			samePlan(t, got, want)
			samePlan(t, p, before)
		})
		st, p = next, got
	}
}

// TestPlanNextShares: a change that moves no target (a TTL) shares the
// targets, so the monitor is left alone; one that does, does not.
func TestPlanNextShares(t *testing.T) {
	t.Parallel()
	o := scale.Options{Services: 1000, Check: scale.CheckSharedTCP}
	p, err := NewPlan(scaleState(o), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o.Variant = 7
	next, err := p.Next(scaleState(o), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !next.SameTargets(p) || len(next.Targets()) != 5 {
		t.Errorf("a TTL edit: same targets %v, %d targets", next.SameTargets(p), len(next.Targets()))
	}
	if get(next, scale.ServiceName(8)) != get(p, scale.ServiceName(8)) || get(next, scale.ServiceName(7)) == get(p, scale.ServiceName(7)) {
		t.Error("Next planned an unchanged service again, or kept a changed one")
	}
	moved := scaleState(o)
	moved.Services[3].Members[0].ProbePort = 9999
	third, err := next.Next(moved, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if third.SameTargets(next) || len(third.Targets()) != 6 {
		t.Errorf("a new probe port: same targets %v, %d targets", third.SameTargets(next), len(third.Targets()))
	}
}

// cloneMaps copies what Next copies whatever the edit.
func cloneMaps(p *Plan) *Plan {
	return &Plan{services: p.services.Clone(), refused: maps.Clone(p.refused)}
}

// get is the plan of service name in p, or nil.
func get(p *Plan, name string) *servicePlan {
	sp, _ := p.services.Get(name)
	return sp
}
