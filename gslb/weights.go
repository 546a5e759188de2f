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
