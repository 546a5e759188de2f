package kube

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// compilePolicies validates every policy; a rejected policy falls back to
// its last accepted version.
func (b *builder) compilePolicies() {
	pc := b.pc
	gps := slices.Clone(b.in.GlobalPolicies)
	slices.SortFunc(gps, func(a, c GlobalPolicy) int { return cmp.Compare(a.Name, c.Name) })
	for _, gp := range gps {
		key := PolicyKey{KindGlobalPolicy, gp.Name}
		c, ok, st := acceptOrFallBack(b, key, gp.Generation, gp.DecodeErr, &gp.Spec, gp.LastAccepted,
			func(gen int64, s *GlobalPolicySpec) (*compiledGlobal, error) {
				return compileGlobal(gp.Name, gen, s, pc)
			},
			func(a AcceptedSpec) *GlobalPolicySpec { return a.Global },
			func(gen int64, s *GlobalPolicySpec) AcceptedSpec { return AcceptedSpec{Generation: gen, Global: s} })
		b.out.Policies[key] = st
		if ok {
			b.globals = append(b.globals, c)
		}
	}

	hps := slices.Clone(b.in.HostPolicies)
	slices.SortFunc(hps, func(a, c HostPolicy) int { return cmp.Compare(a.Name, c.Name) })
	for _, hp := range hps {
		key := PolicyKey{KindHostPolicy, hp.Name}
		c, ok, st := acceptOrFallBack(b, key, hp.Generation, hp.DecodeErr, &hp.Spec, hp.LastAccepted,
			func(gen int64, s *HostPolicySpec) (*compiledHost, error) { return compileHost(hp.Name, gen, s, pc) },
			func(a AcceptedSpec) *HostPolicySpec { return a.Host },
			func(gen int64, s *HostPolicySpec) AcceptedSpec { return AcceptedSpec{Generation: gen, Host: s} })
		if ok {
			if other, dup := b.hosts[c.fqdn]; dup {
				// the first by name wins; this one does not apply
				st.Accepted, st.Reason = false, ReasonConflict
				st.Message = fmt.Sprintf("HostPolicy %s already sets %s", other.name, c.fqdn)
				st.LastAccepted = nil
				delete(b.out.Accepted, key)
			} else {
				b.hosts[c.fqdn] = c
			}
		}
		b.out.Policies[key] = st
	}
}

// acceptOrFallBack compiles one policy's spec (or reports its decode
// error). A spec that compiles, and that no service built from it
// vetoed, is Accepted and recorded as the last accepted one; one that
// does not is Invalid, and the policy's last accepted spec applies
// instead when there is one and it still compiles: this process's own
// (Input.LastAccepted), else the one the object's status holds
// (objLast: written by the leader before this process took over). ok
// says whether c applies.
func acceptOrFallBack[S any, C interface{ warningList() []string }](b *builder, key PolicyKey, gen int64, decodeErr string, spec *S, objLast *AcceptedSpec,
	compile func(gen int64, s *S) (C, error), lastOf func(AcceptedSpec) *S, accepted func(gen int64, s *S) AcceptedSpec,
) (c C, ok bool, st PolicyStatus) {
	st = PolicyStatus{ObservedGeneration: gen}
	vetoed := func(gen int64, s *S) (C, error) {
		if why, found := b.vetoes[vetoKey{key, gen}]; found {
			var zero C
			return zero, errors.New(why)
		}
		return compile(gen, s)
	}
	err := errorString(decodeErr)
	if err == nil {
		c, err = vetoed(gen, spec)
	}
	if err == nil {
		cp := *spec
		a := accepted(gen, &cp)
		b.out.Accepted[key] = a
		st.Accepted, st.Reason, st.Message, st.LastAccepted = true, ReasonValid, acceptedMessage(c.warningList()), &a
		return c, true, st
	}
	st.Reason, st.Message = ReasonInvalid, err.Error()
	prev, found := b.in.LastAccepted[key]
	if !found && objLast != nil {
		prev, found = *objLast, true
	}
	if found && prev.Generation != gen {
		if ps := lastOf(prev); ps != nil {
			if pcmp, perr := vetoed(prev.Generation, ps); perr == nil {
				b.out.Accepted[key] = prev
				st.LastAccepted = &prev
				st.Message += fmt.Sprintf("; generation %d, the last accepted, still applies", prev.Generation)
				return pcmp, true, st
			}
		}
	}
	return c, false, st
}

// vetoKey names one version of one policy.
type vetoKey struct {
	policy     PolicyKey
	generation int64
}

func errorString(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

func acceptedMessage(warnings []string) string {
	if len(warnings) == 0 {
		return "the policy is valid"
	}
	return "the policy is valid; " + strings.Join(warnings, "; ")
}
