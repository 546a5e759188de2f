package gslb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/test/scale"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	st := testState()
	st.Term, st.Generation = 3, 42
	// Health checks travel with the state: every site probes alike.
	st.Services[0].HealthCheck = &HealthCheck{Kind: "https", Port: 8443, Interval: 1500 * time.Millisecond, Rise: 2, Fall: 3,
		Jitter: "10%", Path: "/healthz", ExpectStatus: []string{"200", "300-304"}, SNI: "app.example", CAPEM: testCAPEM(t)}
	st.Services[0].Members[0].ProbePort = 9443
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "MRS\x03" {
		t.Fatalf("the first bytes are %q, want the magic and format 3", b[:4])
	}
	got, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip changed the state:\n got %+v\nwant %+v", got, st)
	}
	// The decoded state answers exactly as the original.
	a, b2 := snapshot(t, st, nil), snapshot(t, got, nil)
	for _, name := range []string{"app.gslb.example.", "www.gslb.example.", "topo.gslb.example.", "ch.gslb.example."} {
		x, y := Select(a, q(name, TypeA, "81.2.69.0/24")), Select(b2, q(name, TypeA, "81.2.69.0/24"))
		if x.Addrs()[0] != y.Addrs()[0] || x.ScopePrefix != y.ScopePrefix {
			t.Errorf("%s: %v/%d vs %v/%d", name, x.Addrs(), x.ScopePrefix, y.Addrs(), y.ScopePrefix)
		}
	}
}

// TestDecodeFormat2 reads a state written in format 2, as the previous
// release's state file is: format 3's fields come back unset.
// testdata/state-format2.bin is testState with a tcp check on its first
// service, written by the format 2 encoder.
func TestDecodeFormat2(t *testing.T) {
	st := testState()
	st.Services[0].HealthCheck = &HealthCheck{Kind: "tcp", Port: 80, Interval: time.Second, Rise: 2, Fall: 2}
	old, err := os.ReadFile("testdata/state-format2.bin")
	if err != nil {
		t.Fatal(err)
	}
	if string(old[:4]) != "MRS\x02" {
		t.Fatalf("the first bytes are %q", old[:4])
	}
	got, err := DecodeState(old)
	if err != nil {
		t.Fatal(err)
	}
	if got.Zones[0].DNSSEC != nil || got.Services[0].HealthCheck.FastInterval != 0 || got.Sites[0].Bias != 0 {
		t.Fatalf("format 2 carried format 3's fields: %+v, %+v", got.Zones[0].DNSSEC, got.Services[0].HealthCheck)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("format 2 decoded differently:\n got %+v\nwant %+v", got, st)
	}
}

// TestEncodeCoversEveryField fills every field of a State by reflection,
// so a field added to the model and forgotten by the encoder fails here
// (and a type fillAll does not know fails until both learn it).
func TestEncodeCoversEveryField(t *testing.T) {
	for _, variant := range []int{0, 1, 2} {
		st := &State{}
		seed := variant
		fillAll(t, reflect.ValueOf(st).Elem(), &seed)
		// Site names as references (the common case) and as strings
		// (sites the State does not define: kept for Validate to judge).
		if variant == 2 { // more sites than a scan looks through
			for len(st.Sites) <= scanSites {
				st.Sites = append(st.Sites, Site{Name: fmt.Sprintf("more-%d", len(st.Sites))})
			}
		}
		st.Services[0].Members[1].Site = st.Sites[len(st.Sites)-1].Name
		st.Services[1].Policy.Topology[0].Sites[0] = st.Sites[0].Name
		enc := st.EncodeParts()
		got, err := decodeState(enc.Raw)
		if err != nil {
			t.Fatalf("variant %d: %v", variant, err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Fatalf("variant %d: round trip changed the state:\n got %+v\nwant %+v", variant, got, st)
		}
		if again := got.EncodeParts().Raw; !bytes.Equal(again, enc.Raw) {
			t.Fatalf("variant %d: encoding is not deterministic", variant)
		}
	}
	// The zero State too: nil lists stay nil.
	var zero State
	got, err := decodeState(zero.EncodeParts().Raw)
	if err != nil || !reflect.DeepEqual(*got, zero) {
		t.Fatalf("zero state: %+v, %v", got, err)
	}
}

var (
	addrType   = reflect.TypeFor[netip.Addr]()
	prefixType = reflect.TypeFor[netip.Prefix]()
)

// fillAll sets v and everything under it to non-zero values that differ
// from field to field: two items per list, every pointer set, addresses
// of every family (IPv4, IPv6, IPv6 with a zone).
func fillAll(t *testing.T, v reflect.Value, seed *int) {
	t.Helper()
	*seed++
	n := *seed
	switch v.Type() {
	case addrType:
		v.Set(reflect.ValueOf(testAddr(n)))
		return
	case prefixType:
		v.Set(reflect.ValueOf(netip.PrefixFrom(testAddr(n).WithZone(""), n%24+1)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(n) * int64(1-2*(n%2)) * 1000003) // both signs, several varint bytes
	case reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(n) * 257)
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.25)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillAll(t, s.Index(i), seed)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillAll(t, p.Elem(), seed)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Field(i).CanSet() {
				t.Fatalf("fillAll: %s.%s is unexported: teach fillAll and the encoder", v.Type(), v.Type().Field(i).Name)
			}
			fillAll(t, v.Field(i), seed)
		}
	default:
		t.Fatalf("fillAll: %s (%s) is new to this test: teach fillAll and the encoder", v.Type(), v.Kind())
	}
}

func testAddr(n int) netip.Addr {
	switch n % 3 {
	case 0:
		return netip.AddrFrom4([4]byte{10, 1, byte(n >> 8), byte(n)})
	case 1:
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 14: byte(n >> 8), 15: byte(n)})
	default:
		return netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(n)}).WithZone(fmt.Sprintf("eth%d", n))
	}
}

// legacyJSON writes st in format 1, as the previous release did.
func legacyJSON(t testing.TB, st *State) []byte {
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jsonEnvelope{Format: 1, State: body})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeStateReadsFormat1(t *testing.T) {
	st := testState()
	st.Term, st.Generation = 2, 7
	got, err := DecodeState(legacyJSON(t, st))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("format 1 read as\n %+v\nwant %+v", got, st)
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	good, _ := testState().Encode()
	bad := testState()
	bad.Services[0].Members[0].Site = "mars"
	invalid, _ := bad.Encode()
	// A follower judges a received check by the loader's rule.
	badCheck := testState()
	badCheck.Services[0].HealthCheck = &HealthCheck{Kind: "tcp", Path: "/healthz"}
	invalidCheck, _ := badCheck.Encode()
	legacy := string(legacyJSON(t, testState()))
	future := append([]byte("MRS\x04"), good[4:]...)
	// A claimed length beyond the input: the first service's name says
	// it is 1 GB long.
	st := testState()
	enc := st.EncodeParts()
	name := enc.services[0].start
	huge := append(append(append([]byte{}, enc.Raw[:name]...), 0x80, 0x80, 0x80, 0x80, 0x04), enc.Raw[name+1:]...)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "bad magic"},
		{"not a state", "hello", "bad magic"},
		{"future format", string(future), "format 4, this build reads formats 1 to 3"},
		{"truncated", string(good[:len(good)-3]), fmt.Sprintf("services[%d]: byte", len(st.Services)-1)},
		{"trailing bytes", string(good) + "x", "1 bytes after the end"},
		{"claimed length beyond the input", string(huge), "services[0]: byte"},
		{"format 1 not json", "{", "decode state"},
		{"format 1 future", `{"format":3,"state":{}}`, "JSON format 3"},
		{"format 1 no state", `{"format":1}`, "no state"},
		{"format 1 unknown field", strings.Replace(legacy, `"zones"`, `"zonez"`, 1), "unknown field"},
		{"invalid", string(invalid), `services[0].members[0].site: unknown site "mars"`},
		{"tcp check without port", string(invalidCheck), "services[0].health_check.port: required for tcp checks"},
		{"http field on a tcp check", string(invalidCheck), "services[0].health_check.path: only for http and https checks"},
	} {
		if _, err := DecodeState([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ...%s...", tc.name, err, tc.want)
		}
	}
}

// TestDecodeInternsStrings: a follower's State holds one copy of each
// site name and of each repeated check field, not one per member.
func TestDecodeInternsStrings(t *testing.T) {
	st := bigState(50)
	for i := range st.Services {
		st.Services[i].HealthCheck = &HealthCheck{Kind: "http", Path: "/healthz-" + "shared"}
	}
	got, err := decodeState(st.EncodeParts().Raw)
	if err != nil {
		t.Fatal(err)
	}
	site := map[string]*byte{}
	for _, s := range got.Sites {
		site[s.Name] = unsafe.StringData(s.Name)
	}
	path := unsafe.StringData(got.Services[0].HealthCheck.Path)
	for _, s := range got.Services {
		for _, m := range s.Members {
			if unsafe.StringData(m.Site) != site[m.Site] {
				t.Fatalf("%s: member site %q is a copy of its own", s.Name, m.Site)
			}
		}
		if unsafe.StringData(s.HealthCheck.Path) != path {
			t.Fatalf("%s: check path is a copy of its own", s.Name)
		}
	}
}

// bigState has n services in test/scale's shape: five sites, three
// members each at consecutive sites, strategies in turn.
func bigState(n int) *State {
	st := &State{Term: 1, Generation: 1, Zones: []Zone{{
		Name:        scale.Zone,
		NameServers: []NameServer{{Name: "ns1." + scale.Zone, Addresses: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}},
	}}}
	for j := range 5 {
		st.Sites = append(st.Sites, Site{Name: scale.SiteName(j), Location: geo.Location{Lat: float64(10 * j), Lon: float64(20 * j), HasCoords: true}})
	}
	strategies := []Strategy{StrategyGeo, StrategyWeighted, StrategyRoundRobin, StrategyConsistentHash}
	st.Services = make([]Service, n)
	for i := range n {
		s := &st.Services[i]
		s.Name = scale.ServiceName(i)
		s.Policy.Strategy = strategies[i%len(strategies)]
		for k := range 3 {
			j := (i + k) % 5
			s.Members = append(s.Members, Member{Site: scale.SiteName(j), Addresses: []netip.Addr{scale.MemberAddr(i, j)}, Weight: 1})
		}
	}
	st.ApplyDefaults()
	return st
}

// FuzzDecodeState: no input makes the decoder panic or allocate more
// than a small multiple of its size, whether read as a state or as a
// delta; what decodes encodes back to a state that decodes the same.
func FuzzDecodeState(f *testing.F) {
	base := testState()
	full := base.EncodeParts()
	f.Add(full.Raw)
	f.Add(legacyJSON(f, base))
	next := testState()
	next.Generation = 1
	next.Services[2].Policy.TTL = 99
	next.Services = append(next.Services[:4], next.Services[5:]...)
	if delta, ok := EncodeDelta(full, next.EncodeParts()); ok {
		f.Add(delta)
	}
	f.Add([]byte("MRS\x02\x01\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st, err := decodeState(b)
		_, _ = ApplyDelta(base, b)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(200*len(b)+(1<<20)) {
			t.Fatalf("%d bytes of input allocated %d bytes", len(b), grew)
		}
		if err != nil || b[0] == '{' {
			return
		}
		raw := st.EncodeParts().Raw
		again, err := decodeState(raw)
		if err != nil || !bytes.Equal(again.EncodeParts().Raw, raw) {
			t.Fatalf("re-encoded state reads back differently: %v", err)
		}
	})
}

// TestEncodeDecodeLinear fails if encoding, decoding or a delta stop
// being linear: the allocations (count and bytes) of an encode, a decode,
// and a one-service delta made and applied, at 40k services, are at most
// 2.2 times those at 20k (counted, not timed).
func TestEncodeDecodeLinear(t *testing.T) {
	cost := func(n int) (mallocs, bytes uint64) {
		st := bigState(n)
		next := *st
		next.Generation++
		next.Services = slices.Clone(st.Services)
		next.Services[n/2].Policy.TTL = 99
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		enc := st.EncodeParts()
		if _, err := decodeState(enc.Raw); err != nil {
			t.Fatal(err)
		}
		delta, ok := EncodeDelta(enc, next.EncodeParts())
		if !ok {
			t.Fatal("no delta")
		}
		if _, err := ApplyDelta(st, delta); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
	}
	m20, b20 := cost(20_000)
	m40, b40 := cost(40_000)
	t.Logf("allocations: %d (%d bytes) at 20k, %d (%d bytes) at 40k services", m20, b20, m40, b40)
	if float64(m40) > 2.2*float64(m20) || float64(b40) > 2.2*float64(b20) {
		t.Fatalf("allocations grow faster than linearly: %d (%d bytes) at 20k, %d (%d bytes) at 40k", m20, b20, m40, b40)
	}
}

func TestVersionOrder(t *testing.T) {
	for _, tc := range []struct {
		a, b Version
		want bool
	}{
		{Version{1, 5}, Version{1, 4}, true},
		{Version{1, 4}, Version{1, 4}, false},
		{Version{2, 1}, Version{1, 900}, true}, // a new leader's term wins
		{Version{1, 900}, Version{2, 1}, false},
	} {
		if got := tc.a.Newer(tc.b); got != tc.want {
			t.Errorf("%v.Newer(%v) = %v", tc.a, tc.b, got)
		}
	}
}

// BenchmarkStateEncoding: encode, decode (without validation) and delta
// of a one-service change, at test/scale's sizes; growth is linear.
func BenchmarkStateEncoding(b *testing.B) {
	for _, n := range []int{10_000, 40_000, 100_000} {
		st := bigState(n)
		enc := st.EncodeParts()
		next := *st
		next.Generation++
		next.Services = slices.Clone(st.Services)
		next.Services[n/2].Policy.TTL = 99
		b.Run(fmt.Sprintf("encode/%dk", n/1000), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st.EncodeParts()
			}
			b.ReportMetric(float64(len(enc.Raw))/1e6, "MB")
		})
		b.Run(fmt.Sprintf("decode/%dk", n/1000), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeState(enc.Raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("delta/%dk", n/1000), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := EncodeDelta(enc, next.EncodeParts()); !ok {
					b.Fatal("no delta")
				}
			}
		})
		b.Run(fmt.Sprintf("validate/%dk", n/1000), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := st.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
