package gslb

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
)

// applied checks that the delta from base to next makes exactly next
// (byte for byte, as the follower's hash check will) and returns it.
func applied(t *testing.T, base, next *State) []byte {
	t.Helper()
	delta, ok := EncodeDelta(base.EncodeParts(), next.EncodeParts())
	if !ok {
		t.Fatal("no delta offered")
	}
	got, err := ApplyDelta(base, delta)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.EncodeParts().Raw, next.EncodeParts().Raw) {
		t.Fatalf("the delta made another state:\n got %+v\nwant %+v", got.Services, next.Services)
	}
	return delta
}

func nextOf(base *State) *State {
	next := *base
	next.Generation++
	next.Services = slices.Clone(base.Services)
	return &next
}

func TestDeltaMakesTheNextState(t *testing.T) {
	base := bigState(1000)
	for _, tc := range []struct {
		name string
		edit func(*State)
		max  int // bytes the delta may take
	}{
		{"nothing changed", func(*State) {}, 40},
		{"one service changed", func(st *State) { st.Services[500].Policy.TTL = 99 }, 120},
		{"one member changed", func(st *State) {
			s := &st.Services[7]
			s.Members = slices.Clone(s.Members)
			s.Members[1].Weight = 0
		}, 120},
		{"services added first, inside and last", func(st *State) {
			add := func(i int, name string) {
				s := st.Services[i]
				s.Name = name
				st.Services = slices.Insert(st.Services, i, s)
			}
			add(0, "first.scale.example.")
			add(400, "inside.scale.example.")
			add(len(st.Services)-1, "last.scale.example.")
		}, 400},
		{"services removed", func(st *State) {
			st.Services = slices.Delete(st.Services, 998, 1000)
			st.Services = slices.Delete(st.Services, 0, 3)
		}, 150},
		{"a service moved", func(st *State) {
			s := st.Services[10]
			st.Services = slices.Insert(slices.Delete(st.Services, 10, 11), 900, s)
		}, 120},
		{"zones changed", func(st *State) {
			st.Zones = slices.Clone(st.Zones)
			st.Zones[0].Records = []string{`@ 300 IN TXT "hello"`}
		}, 200},
		{"a site added at the end", func(st *State) {
			st.Sites = append(slices.Clip(st.Sites), Site{Name: "s5", Location: geo.Location{Country: "FR"}})
			st.Services[3].Members = append(slices.Clip(st.Services[3].Members), Member{Site: "s5", Addresses: []netip.Addr{netip.MustParseAddr("10.9.9.9")}, Weight: 1})
		}, 300},
		{"a site moved on the map", func(st *State) {
			st.Sites = slices.Clone(st.Sites)
			st.Sites[2].Location.Lat = 45
		}, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := nextOf(base)
			tc.edit(next)
			if delta := applied(t, base, next); len(delta) > tc.max {
				t.Errorf("delta of %d bytes, want at most %d", len(delta), tc.max)
			}
		})
	}
}

func TestDeltaNotOffered(t *testing.T) {
	base := bigState(100)
	for _, tc := range []struct {
		name string
		edit func(*State)
	}{
		{"sites reordered", func(st *State) {
			st.Sites = slices.Clone(st.Sites)
			st.Sites[0], st.Sites[1] = st.Sites[1], st.Sites[0]
		}},
		{"a site removed", func(st *State) { st.Sites = st.Sites[:4] }},
		{"a name twice", func(st *State) { st.Services[5].Name = st.Services[6].Name }},
		{"most services changed", func(st *State) {
			for i := range st.Services {
				st.Services[i].Policy.TTL = 7
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := nextOf(base)
			tc.edit(next)
			if _, ok := EncodeDelta(base.EncodeParts(), next.EncodeParts()); ok {
				t.Fatal("a delta was offered")
			}
		})
	}
}

func TestApplyDeltaRefuses(t *testing.T) {
	base := bigState(100)
	next := nextOf(base)
	next.Services[3].Policy.TTL = 5
	next.Services = next.Services[:99]
	delta, _ := EncodeDelta(base.EncodeParts(), next.EncodeParts())
	other := nextOf(base)
	other.Generation = 9
	for _, tc := range []struct {
		name  string
		base  *State
		delta []byte
		want  string
	}{
		{"another base", other, delta, "the delta applies to 1.1, not to 1.9"},
		{"a full state", base, base.EncodeParts().Raw, "bad magic"},
		{"truncated", base, delta[:len(delta)-2], "upserts[0]: byte"},
		{"future format", base, append([]byte("MRD\x04"), delta[4:]...), "format 4"},
		{"removes what the base lacks", bigState(50), delta, "removes services the base does not have"},
	} {
		if _, err := ApplyDelta(tc.base, tc.delta); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ...%s...", tc.name, err, tc.want)
		}
	}
}
