package geo

import (
	"math"
	"testing"
)

// The prepared form that gslb ranks members with agrees with DistanceKm,
// and KmToHaversine inverts HaversineToKm, monotonically.
func TestHaversineRanking(t *testing.T) {
	at := func(lat, lon float64) Location { return Location{Lat: lat, Lon: lon, HasCoords: true} }
	locs := []Location{at(39.0, -77.5), at(53.3, -6.3), at(19.1, 72.9), london, at(35.7, 139.7), at(42.4, -71.1), at(-33.9, 151.2), at(90, 0), at(-90, 0)}
	for _, a := range locs {
		for _, b := range locs {
			h := NewPoint(a).Haversine(NewPoint(b))
			km := HaversineToKm(h)
			if want := DistanceKm(a, b); math.Abs(km-want) > 1e-6 {
				t.Errorf("%v-%v: %v km, DistanceKm says %v", a, b, km, want)
			}
			if back := KmToHaversine(km); h < 1 && math.Abs(back-h) > 1e-9 {
				t.Errorf("KmToHaversine(%v) = %v, want %v", km, back, h)
			}
			if km > 1 && KmToHaversine(km-0.5) >= h {
				t.Errorf("KmToHaversine not monotonic at %v km", km)
			}
		}
	}
	none := NewPoint(Location{Country: "GB"})
	if none.Valid() || !NewPoint(london).Valid() {
		t.Error("Valid wrong")
	}
	if h := NewPoint(london).Haversine(none); !math.IsInf(h, 1) || !math.IsInf(HaversineToKm(h), 1) {
		t.Errorf("no coordinates: haversine %v, km %v; want +Inf", h, HaversineToKm(h))
	}
	if !math.IsInf(KmToHaversine(math.Pi*EarthRadiusKm), 1) {
		t.Error("half the circumference should take every point")
	}
}
