package geo

import "math"

// Great-circle distance on a sphere of the mean Earth radius, by the
// haversine formula: hav(θ) = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2) and
// d = 2R asin(√hav). The only copy in Meridian: gslb ranks members with
// Point and Haversine, which skip the asin and square root per candidate.

// EarthRadiusKm is the mean Earth radius (IUGG) used for every distance.
const EarthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance between a and b. When
// either lacks coordinates the distance is +Inf, so an unknown place is
// never "nearest".
func DistanceKm(a, b Location) float64 {
	return HaversineToKm(NewPoint(a).Haversine(NewPoint(b)))
}

// Point is a Location prepared for many distance comparisons: radians and
// the cosine of the latitude computed once.
type Point struct {
	lat, lon, cosLat float64 // radians
	ok               bool
}

// NewPoint prepares l; without coordinates the Point is not Valid.
func NewPoint(l Location) Point {
	if !l.HasCoords {
		return Point{}
	}
	const rad = math.Pi / 180
	return Point{lat: l.Lat * rad, lon: l.Lon * rad, cosLat: math.Cos(l.Lat * rad), ok: true}
}

// Valid reports whether the point has coordinates.
func (p Point) Valid() bool { return p.ok }

// Haversine is hav of the central angle between p and q, in [0, 1], or
// +Inf when either is not Valid. It grows with distance, so candidates
// can be compared by it directly; HaversineToKm turns it into km.
func (p Point) Haversine(q Point) float64 {
	if !p.ok || !q.ok {
		return math.Inf(1)
	}
	sLat := math.Sin((q.lat - p.lat) / 2)
	sLon := math.Sin((q.lon - p.lon) / 2)
	// Rounding can push it a hair past 1 for antipodal points.
	return min(sLat*sLat+p.cosLat*q.cosLat*sLon*sLon, 1)
}

// HaversineToKm is the distance of a Haversine value (+Inf stays +Inf).
func HaversineToKm(h float64) float64 {
	if math.IsInf(h, 1) {
		return h
	}
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(h))
}

// HalfCircleKm is the longest great-circle distance.
const HalfCircleKm = math.Pi * EarthRadiusKm

// KmToRank puts a distance on a scale that orders distances as the
// Haversine value does (it is KmToHaversine below half the
// circumference) and goes on past 1 in proportion beyond it, where a
// scaled distance (a geoproximity bias) can reach; +Inf stays +Inf.
// RankToKm is its inverse.
func KmToRank(km float64) float64 {
	if km < HalfCircleKm {
		return KmToHaversine(km)
	}
	return km / HalfCircleKm
}

// RankToKm is the distance of a KmToRank value.
func RankToKm(r float64) float64 {
	if r <= 1 {
		return HaversineToKm(r)
	}
	return r * HalfCircleKm
}

// KmToHaversine is the inverse of HaversineToKm: the Haversine value of a
// distance, +Inf from half the circumference on (every point is nearer).
func KmToHaversine(km float64) float64 {
	half := km / (2 * EarthRadiusKm)
	if half >= math.Pi/2 || math.IsInf(km, 1) {
		return math.Inf(1)
	}
	s := math.Sin(half)
	return s * s
}
