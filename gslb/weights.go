package gslb

import (
	"errors"
	"slices"
)

// ErrEveryMemberDrained is CheckWeights' error.
var ErrEveryMemberDrained = errors.New("every member has weight 0, so the service would never be answered")

// CheckWeights refuses a service whose members all have weight 0. Weight
// 0 drains one member (Select skips it, whatever the strategy); with every
// member drained the name answers NODATA for ever, which is a mistake far
// more often than an intent.
//
// It is not part of State.Validate: a follower must take the leader's
// State whole, and a Kubernetes build must not be refused for one
// service. It is checked where a person writes the weights: the config
// loader (services[].members) and the Kubernetes policy compiler (the
// policy whose weights drain every member of a service is not accepted).
func CheckWeights(members []Member) error {
	if len(members) > 0 && !slices.ContainsFunc(members, func(m Member) bool { return m.Weight > 0 }) {
		return ErrEveryMemberDrained
	}
	return nil
}

// EffectiveWeight is the member's weight scaled by its capacity on offer
// (Member.Capacity, thousandths; 0: no measurement, all of it), in
// thousandths of a weight unit: a member at weight 10 with 2 of its 10
// endpoints ready weighs as one at weight 2. A member with capacity but
// weight 0 stays drained; one with weight but a capacity of 0 measured is
// Unready, which the control plane sets too.
func (m *Member) EffectiveWeight() uint64 {
	if m.Capacity == 0 {
		return uint64(m.Weight) * FullCapacity
	}
	return uint64(m.Weight) * uint64(m.Capacity)
}

// FullCapacity is Member.Capacity for all of it: capacity is in
// thousandths, and Validate refuses more.
const FullCapacity = 1000
