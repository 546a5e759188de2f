package kube

import (
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/gslb"
)

// annotationOverrides applies meridian.io/strategy and meridian.io/ttl
// from the first source that carries them.
func (b *builder) annotationOverrides(srcs []*source, pol *gslb.Policy) {
	strategyDone, ttlDone := false, false
	for _, s := range srcs {
		if v, ok := s.annots[AnnotationStrategy]; ok && !strategyDone {
			st := gslb.Strategy(strings.ToLower(strings.TrimSpace(v)))
			switch {
			case !slices.Contains(gslb.Strategies, st):
				b.problem("%s: annotation %s=%q: unknown strategy", s.ref, AnnotationStrategy, v)
			case st == gslb.StrategyTopology && len(pol.Topology) == 0:
				b.problem("%s: annotation %s=%q: no topology rules configured", s.ref, AnnotationStrategy, v)
			default:
				pol.Strategy = st
				strategyDone = true
			}
		}
		if v, ok := s.annots[AnnotationTTL]; ok && !ttlDone {
			t, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil || t < 1 || t > 86400 {
				b.problem("%s: annotation %s=%q: want seconds between 1 and 86400", s.ref, AnnotationTTL, v)
			} else {
				pol.TTL = uint32(t)
				ttlDone = true
			}
		}
	}
}

func (b *builder) annotationUint(s *source, name string, limit uint64) *uint32 {
	v, ok := s.annots[name]
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil || n > limit {
		b.problem("%s: annotation %s=%q: want a number between 0 and %d", s.ref, name, v, limit)
		return nil
	}
	u := uint32(n)
	return &u
}
