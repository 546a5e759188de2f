package gslb

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/test/scale"
)

// hashedHealth is a HealthView whose verdicts depend only on the member:
// about one member in four is down, one in eight unknown. It counts its
// calls.
type hashedHealth struct{ calls *int }

func (h hashedHealth) MemberUp(service string, m *Member) (up, known bool) {
	*h.calls++
	f := fnv.New32a()
	f.Write([]byte(service + " " + m.ID()))
	v := f.Sum32() % 8
	return v >= 2, v != 7
}

// editRandomly changes st the ways a reload or a build does: services
// edited, added, removed, moved; members added, dropped, made unready.
func editRandomly(r *rand.Rand, st *State, edits int) *State {
	out := *st
	out.Services = slices.Clone(st.Services)
	for range edits {
		i := r.IntN(len(out.Services))
		s := out.Services[i]
		s.Members = slices.Clone(s.Members)
		switch r.IntN(8) {
		case 0:
			s.Policy.TTL++
		case 1:
			s.Members[r.IntN(len(s.Members))].Weight += 2
		case 2:
			m := &s.Members[r.IntN(len(s.Members))]
			m.Unready = !m.Unready
		case 3:
			m := s.Members[0]
			v := r.Uint32()
			m.Addresses = []netip.Addr{netip.AddrFrom4([4]byte{10, 200, byte(v >> 8), byte(v)})}
			m.Site = out.Sites[r.IntN(len(out.Sites))].Name
			m.Priority = r.IntN(2)
			s.Members = append(s.Members, m)
		case 4:
			if len(s.Members) > 1 {
				s.Members = s.Members[1:]
			}
		case 5: // removed
			out.Services = slices.Delete(out.Services, i, i+1)
			continue
		case 6: // a new service
			s.Name = fmt.Sprintf("new%d.%s", r.Uint32(), scale.Zone)
			out.Services = append(out.Services, s)
			continue
		case 7: // moved to the end
			out.Services = append(slices.Delete(out.Services, i, i+1), s)
			continue
		}
		out.Services[i] = s
	}
	return &out
}

// sameAnswers fails t unless a and b answer every service alike, for a
// few clients, and report the same member health.
func sameAnswers(t *testing.T, a, b *Snapshot) {
	t.Helper()
	clients := []netip.Addr{netip.MustParseAddr("81.2.69.1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:67c:2e8::1")}
	for i := range b.State.Services {
		name := b.State.Services[i].Name
		if ha, hb := a.MemberHealth(name), b.MemberHealth(name); !slices.Equal(ha, hb) {
			t.Fatalf("%s: member health %+v, want %+v", name, ha, hb)
		}
		for _, c := range clients {
			for _, typ := range []uint16{TypeA, TypeAAAA} {
				for rnd := range uint64(3) {
					q := Query{Name: name, Type: typ, Client: c, SourcePrefix: c.BitLen(), Rand: rnd}
					x, y := Select(a, q), Select(b, q)
					if !x.Service.Equal(y.Service) || x.Zone.Name != y.Zone.Name {
						t.Fatalf("%s: service or zone differ", name)
					}
					x.Service, y.Service, x.Zone, y.Zone = nil, nil, nil, nil
					if x != y {
						t.Fatalf("%s %d from %s: Next answers %+v, a full build %+v", name, typ, c, x, y)
					}
				}
			}
		}
	}
	if a.services.Len() != b.services.Len() {
		t.Fatalf("Next has %d services, a full build %d", a.services.Len(), b.services.Len())
	}
}

// TestNextMatchesNewSnapshot: after rounds of random edits, each built
// with Next from the one before, the snapshot answers and reports health
// exactly as a full build of the same State with the same view, and
// keeps the overrides.
func TestNextMatchesNewSnapshot(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	calls := 0
	h := hashedHealth{&calls}
	st := mustValid(t, scaleState(scale.Options{Services: 300, Sites: 4, Members: 3}))
	admin := Admin{Sites: map[string]AdminMode{"s1": AdminDrain}, Members: map[MemberRef]AdminMode{{Service: scale.ServiceName(5), Member: "s2/" + scale.MemberAddr(5, 2).String()}: AdminUp}}
	snap := snapshot(t, st, h).WithAdmin(admin)
	for round := range 60 {
		next := mustValid(t, editRandomly(r, st, 1+r.IntN(20)))
		got, err := snap.Next(next, snap.Locator, h)
		if err != nil {
			t.Fatal(err)
		}
		want := snapshot(t, next, h).WithAdmin(admin)
		t.Run(fmt.Sprint("round", round), func(t *testing.T) { sameAnswers(t, got, want) })
		if got.giEnd > compactAt(got.members) {
			t.Fatalf("health indexes spread to %d for %d members", got.giEnd, got.members)
		}
		st, snap = next, got
	}
}

// TestNextSharesUnchanged: one edited service is all Next compiles and
// reads health for; the others are prev's compiled services.
func TestNextSharesUnchanged(t *testing.T) {
	calls := 0
	h := hashedHealth{&calls}
	st := mustValid(t, scaleState(scale.Options{Services: 1000, Sites: 5, Members: 3}))
	prev := snapshot(t, st, h)
	edited := mustValid(t, scaleState(scale.Options{Services: 1000, Sites: 5, Members: 3, Variant: 7}))
	calls = 0
	next, err := prev.Next(edited, prev.Locator, h)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("Next read the health of %d members, want the edited service's 3", calls)
	}
	for name, svc := range next.services.All() {
		if shared := prev.service(name) == svc; shared != (name != scale.ServiceName(7)) {
			t.Errorf("%s: shared with prev = %v", name, shared)
		}
	}
	if next.Service(scale.ServiceName(7)).Policy.TTL != 37 {
		t.Error("the edit is not served")
	}
	// Sites changed: everything is compiled again.
	moved := *edited
	moved.Sites = slices.Clone(edited.Sites)
	moved.Sites[0].Location.Lat++
	again, err := next.Next(&moved, prev.Locator, h)
	if err != nil {
		t.Fatal(err)
	}
	if again.service(scale.ServiceName(0)) == next.service(scale.ServiceName(0)) {
		t.Error("a site moved but the services were not compiled again")
	}
}

// TestValidateChangedAgreesWithValidate: on random edits, some of them
// invalid (a bad TTL-independent field, a duplicate name, an unknown
// site), ValidateChanged reports exactly what Validate does.
func TestValidateChangedAgreesWithValidate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	prev := mustValid(t, scaleState(scale.Options{Services: 200, Sites: 4, Members: 2}))
	for round := range 200 {
		next := editRandomly(r, prev, 1+r.IntN(5))
		i := r.IntN(len(next.Services))
		switch round % 5 {
		case 1:
			next.Services[i].Members = append(slices.Clone(next.Services[i].Members), Member{Site: "nowhere", Addresses: next.Services[i].Members[0].Addresses})
		case 2:
			next.Services = append(next.Services, next.Services[i])
		case 3:
			next.Services[i].Policy.MinUp = -1
		case 4:
			next.Sites = next.Sites[1:]
		}
		want, got := next.Validate(), next.ValidateChanged(prev)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: ValidateChanged says\n%v\nValidate says\n%v", round, got, want)
		}
		if round%5 == 1 && !errors.As(got, new(*FieldError)) {
			t.Fatalf("round %d: an unknown site passed", round)
		}
		if want == nil {
			prev = next
		}
	}
}
