package geo

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestCountryPoint checks the built-in table against the system's tz
// database (Debian's tzdata): every ISO 3166 code it lists is known, and each
// point is within 1500 km of one of the country's time-zone cities, which
// catches a swapped sign or a mistyped degree. Without tzdata it follows
// proctest's rule: a skip locally, a failure under CI (scripts/ensure-deps.sh
// installs tzdata).
func TestCountryPoint(t *testing.T) {
	for _, cc := range []string{"US", "GB", "XK", "AQ"} {
		lat, lon, cont, ok := countryPoint(cc)
		if !ok || lat < -90 || lat > 90 || lon < -180 || lon > 180 || CheckContinent(cont) != nil {
			t.Errorf("countryPoint(%s) = %v, %v, %q, %v", cc, lat, lon, cont, ok)
		}
	}
	if _, _, _, ok := countryPoint("ZZ"); ok {
		t.Error("countryPoint(ZZ) is known")
	}

	codes := readTab(t, "/usr/share/zoneinfo/iso3166.tab")
	for _, f := range codes {
		if _, _, _, ok := countryPoint(f[0]); !ok {
			t.Errorf("countryPoint(%s): unknown, but iso3166.tab lists it (%s)", f[0], f[1])
		}
	}

	zones := map[string][]Location{}
	for _, f := range readTab(t, "/usr/share/zoneinfo/zone.tab") {
		zones[f[0]] = append(zones[f[0]], parseISO6709(t, f[1]))
	}
	for cc, pts := range zones {
		lat, lon, _, ok := countryPoint(cc)
		if !ok {
			continue
		}
		here := Location{Lat: lat, Lon: lon, HasCoords: true}
		best := DistanceKm(here, pts[0])
		for _, p := range pts[1:] {
			best = min(best, DistanceKm(here, p))
		}
		if best > 1500 {
			t.Errorf("countryPoint(%s) = %v, %v: %.0f km from the nearest %s time-zone city", cc, lat, lon, best, cc)
		}
	}
}

func readTab(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(proctest.RequireFile(t, path, "tzdata"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := s.Text(); line != "" && line[0] != '#' {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// parseISO6709 reads zone.tab's +DDMM[SS]+DDDMM[SS] coordinates.
func parseISO6709(t *testing.T, s string) Location {
	t.Helper()
	i := strings.LastIndexAny(s, "+-")
	conv := func(v string, degDigits int) float64 {
		sign := 1.0
		if v[0] == '-' {
			sign = -1
		}
		v = v[1:]
		d, _ := strconv.Atoi(v[:degDigits])
		m, _ := strconv.Atoi(v[degDigits : degDigits+2])
		sec := 0
		if len(v) > degDigits+2 {
			sec, _ = strconv.Atoi(v[degDigits+2:])
		}
		return sign * (float64(d) + float64(m)/60 + float64(sec)/3600)
	}
	return Location{Lat: conv(s[:i], 2), Lon: conv(s[i:], 3), HasCoords: true}
}
