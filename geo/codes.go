package geo

import (
	"fmt"
	"slices"
	"strings"
)

// The rules for a place written by hand: a site's location, a geo rule's,
// a topology rule's countries and continents. The config loader, gslb's
// State validation (which followers apply too), the Kubernetes policy
// compiler and NewLocator all call these, so a value one accepts the
// others accept.

// Continents are the continent codes MaxMind and GeoNames use.
var Continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

// CheckContinent refuses what is not one of Continents (upper case).
func CheckContinent(s string) error {
	if !slices.Contains(Continents, s) {
		return fmt.Errorf("%q is not a continent code (want one of %s)", s, strings.Join(Continents, ", "))
	}
	return nil
}

// CheckCountry refuses what does not have the shape of an ISO 3166-1
// alpha-2 code: two upper-case letters. The list itself is not checked:
// new codes appear (XK), and a database may use them first.
func CheckCountry(s string) error {
	if !isAlpha2(s) {
		return fmt.Errorf("%q is not an ISO 3166-1 alpha-2 country code such as \"IE\"", s)
	}
	return nil
}

// CheckLatitude refuses a latitude outside -90..90 (NaN included).
func CheckLatitude(lat float64) error {
	if !(lat >= -90 && lat <= 90) {
		return fmt.Errorf("latitude %v is outside -90..90", lat)
	}
	return nil
}

// CheckLongitude refuses a longitude outside -180..180 (NaN included).
func CheckLongitude(lon float64) error {
	if !(lon >= -180 && lon <= 180) {
		return fmt.Errorf("longitude %v is outside -180..180", lon)
	}
	return nil
}

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
