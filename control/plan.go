package control

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/sites/kube"
)

// inputs are everything the served State is made of, besides health and
// the admin overrides (which the snapshot lays over it).
type inputs struct {
	// cfg is the configuration file: the local settings and, on a leader
	// or standalone, the zones, sites and services.
	cfg *config.Loaded
	// kube is the last build from the member clusters; nil without one.
	kube *kube.Build
	// remote is the last State the leader published, on a follower
	// (whose file has no zones, sites or services); nil before the first.
	remote *gslb.State
	// followRemote serves remote whatever the role: a leader that hears
	// a newer State of another live leader serves it rather than fight
	// over terms, until its own next configuration or build.
	followRemote bool
}

// plan merges in into the State to serve, at version v (the "plan" step
// of external-dns): a follower (or followRemote) serves the leader's
// State as it came, with the leader's version; otherwise the file's services and, when there is
// a build, the services built from Kubernetes. It never changes its
// inputs. The notes say which built services are not served and why; an
// error means the build does not fit the file (a zone or site gone) and
// the State is the file's alone. served is the State served now (nil before
// the first), which passed validation: a merged State is judged only
// where it differs from it (gslb.State.ValidateChanged).
func plan(in inputs, v gslb.Version, served *gslb.State) (st *gslb.State, notes []string, err error) {
	switch {
	case in.remote != nil && (in.followRemote || in.cfg.Config.Gossip.Follower()):
		return in.remote, nil, nil
	case in.kube != nil:
		withK, notes, err := withKube(in.cfg.State, in.kube, served)
		if err != nil {
			return versioned(in.cfg.State, v), notes, err
		}
		return versioned(withK, v), notes, nil
	}
	return versioned(in.cfg.State, v), nil, nil
}

// nextVersion is the rule of versioning in a serve process, given the
// State served now (nil before the first):
//   - the first State is generation 1;
//   - a new configuration or Kubernetes build (newGeneration) is the next
//     generation under the same term;
//   - a new gossip term (the leader's) keeps the generation: the same
//     State, shown under the term it is published with.
//
// A follower serves the leader's States with the leader's versions.
func nextVersion(cur *gslb.State, term uint64, newGeneration bool) gslb.Version {
	if cur == nil {
		return gslb.Version{Term: term, Generation: 1}
	}
	v := gslb.Version{Term: term, Generation: cur.Generation}
	if newGeneration {
		v.Generation++
	}
	return v
}

// leaderTerm is the term a leader publishes generation gen under, given
// its current term (0 before its first publication), the lowest term it
// may use (floor: the Lease's) and the highest version this node holds or
// has heard of (its state file included). A first publication, or one
// that would not outrank what the cluster holds, takes the term above
// it, so a restarted or new leader always outranks the previous one;
// otherwise (reloads) the term stays and the generation rises.
func leaderTerm(cur, floor uint64, heard gslb.Version, gen uint64) uint64 {
	if cur == 0 || heard.Term > cur || heard.Term == cur && heard.Generation >= gen {
		cur = heard.Term + 1
	}
	return max(cur, floor)
}

// versioned returns a copy of st carrying version v. It is the one place
// a serve process writes a State's Term and Generation.
func versioned(st *gslb.State, v gslb.Version) *gslb.State {
	out := *st
	out.Term, out.Generation = v.Term, v.Generation
	return &out
}

// withKube returns the file's State with build b's services added: the
// file's services and the built ones (a built name that the file also
// defines stays the file's), each built member's Kubernetes readiness as
// Member.Unready and the ready share of its endpoints as Member.Capacity.
// The result must validate as a whole; it is judged
// where it differs from validated, a State that passed (nil: all of it).
// The file's services passed config's validation and the built ones
// that validated before are not judged again, so a build that changes a
// few services costs those.
func withKube(file *gslb.State, b *kube.Build, validated *gslb.State) (*gslb.State, []string, error) {
	st := *file
	st.Services = slices.Clone(file.Services)
	var notes []string
	taken := map[string]bool{}
	for _, s := range st.Services {
		taken[s.Name] = true
	}
	for _, svc := range b.Services {
		if taken[svc.Name] {
			notes = append(notes, fmt.Sprintf("%s: defined in the configuration file too; the file's definition is served", svc.Name))
			continue
		}
		svc.Members = slices.Clone(svc.Members)
		for i := range svc.Members {
			m := &svc.Members[i]
			ref := gslb.MemberRef{Service: svc.Name, Member: m.ID()}
			if ready, ok := b.Readiness[ref]; ok {
				m.Unready = !ready
			}
			// the ready share of its endpoints; absent: not measured
			// (0, all of it)
			m.Capacity = b.Capacity[ref]
		}
		// The file's services are defaulted already (config.Load);
		// only the built ones are new to the rules.
		svc.ApplyDefaults()
		st.Services = append(st.Services, svc)
	}
	slices.SortStableFunc(st.Services[len(file.Services):], func(a, b gslb.Service) int { return cmp.Compare(a.Name, b.Name) })
	if err := st.ValidateChanged(validated); err != nil {
		return nil, notes, err
	}
	return &st, notes, nil
}
