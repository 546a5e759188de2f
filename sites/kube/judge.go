package kube

import (
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// judgeService validates a service's policy and health check with gslb's
// rules (gslb.Policy.Validate, and HealthCheck.Validate on the check as
// health will probe it), exactly as gslb.State.Validate judges the
// published State here and at every follower, so that a policy is never
// Accepted while the State it makes would be refused or its members left
// unprobed. It returns the problems with paths relative to the service
// ("policy.strategy", "health_check.port"); the service's name and
// members are the build's business and are not judged here.
func judgeService(name string, pol gslb.Policy, hc *gslb.HealthCheck, sites map[string]bool) []*gslb.FieldError {
	pol = pol.Clone()
	pol.ApplyDefaults()
	out := gslb.FieldErrors(gslb.WithPathPrefix("policy.", pol.Validate(sites)))
	svc := gslb.Service{Name: gslb.CanonicalName(name), HealthCheck: hc}
	if probe := svc.ProbeHealthCheck(); probe != nil {
		out = append(out, gslb.FieldErrors(gslb.WithPathPrefix("health_check.", probe.Validate()))...)
	}
	return out
}

// policyFields maps the policy's json names in gslb (snake_case) to the
// spec's where they differ by more than case.
var policyFields = map[string]string{
	"min_up":        "minUp",
	"degraded_ttl":  "degradedTTL",
	"geo_tie_km":    "geoTieKm",
	"hash_mask":     "hashMask",
	"down_response": "downResponse",
	"hard_limit":    "hardLimit",
	"max_age":       "maxAge",
	"sticky_for":    "stickyFor",
	"match_label":   "matchLabel",
	"match_on":      "matchOn",
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
