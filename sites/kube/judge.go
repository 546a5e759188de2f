package kube

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// judgeService validates a service's policy and health check with gslb's
// rules (gslb.State.Validate, the check as health will probe it), exactly
// as the published State will be validated here and at every follower, so
// that a policy is never Accepted while the State it makes would be
// refused or its members left unprobed. It returns the problems of the
// policy and of the check, with paths relative to the service
// ("policy.strategy", "health_check.port"); the service's name and
// members are the build's business and are not judged here.
func judgeService(name string, pol gslb.Policy, hc *gslb.HealthCheck, sites map[string]bool) []*gslb.FieldError {
	st := gslb.State{Services: []gslb.Service{{
		Name:        name,
		Policy:      clonePolicy(pol),
		HealthCheck: hc.Clone(),
		// one member, so that the service itself is well formed
		Members: []gslb.Member{{Site: "judge", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}},
	}}}
	for _, s := range slices.Sorted(maps.Keys(sites)) {
		st.Sites = append(st.Sites, gslb.Site{Name: s})
	}
	st.Sites = append(st.Sites, gslb.Site{Name: "judge"})
	st.ApplyDefaults()
	var out []*gslb.FieldError
	for _, e := range unjoin(st.Validate()) {
		var fe *gslb.FieldError
		if !errors.As(e, &fe) {
			continue
		}
		rel, ok := strings.CutPrefix(fe.Path, "services[0].")
		if ok && (strings.HasPrefix(rel, "policy.") || strings.HasPrefix(rel, "health_check.")) {
			out = append(out, &gslb.FieldError{Path: rel, Msg: fe.Msg})
		}
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// policyFields maps the policy's json names in gslb (snake_case) to the
// spec's where they differ by more than case.
var policyFields = map[string]string{
	"min_up":        "minUp",
	"degraded_ttl":  "degradedTTL",
	"geo_tie_km":    "geoTieKm",
	"hash_mask":     "hashMask",
	"down_response": "downResponse",
}

// specPath names a judged problem by its spec field: "policy.min_up" is
// spec.minUp, "health_check.expect_status[1]" spec.healthCheck.expectStatus[1],
// "policy.persistence.mask.ipv4" spec.persistence.ipv4Mask. A missing
// topology is the strategy's problem when the policy sets no topology.
func specPath(path string, setsTopology bool) string {
	if rest, ok := strings.CutPrefix(path, "health_check."); ok {
		return "spec.healthCheck." + rename(rest, healthCheckFields)
	}
	rest := strings.TrimPrefix(path, "policy.")
	switch {
	case rest == "topology" && !setsTopology:
		return "spec.strategy"
	case strings.HasPrefix(rest, "persistence.mask."):
		return "spec.persistence." + strings.TrimPrefix(rest, "persistence.mask.") + "Mask"
	}
	return "spec." + rename(rest, policyFields)
}

// rename maps each dotted segment of path (an index suffix kept).
func rename(path string, names map[string]string) string {
	segs := strings.Split(path, ".")
	for i, s := range segs {
		name, index, _ := strings.Cut(s, "[")
		if n, ok := names[name]; ok {
			name = n
		}
		if index != "" {
			name += "[" + index
		}
		segs[i] = name
	}
	return strings.Join(segs, ".")
}
