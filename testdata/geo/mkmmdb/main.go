// Command mkmmdb writes Meridian's synthetic MaxMind DB (mmdb) fixtures.
// Nothing in them comes from a real GeoIP database: the networks are a
// hand-picked handful placed at well-known cities, enough to exercise the
// City and Country schemas, IPv4, IPv6 and IPv4-only trees.
//
// It lives in its own module so that Meridian does not depend on mmdbwriter.
//
//	cd testdata/geo/mkmmdb && go run .           # rewrite the fixtures
//	cd testdata/geo/mkmmdb && go run . -check    # fail if they are stale
//
// It also writes large synthetic databases for benchmarks (never committed;
// see big.go, kit.go and real.go) and prints statistics of any mmdb file
// (stats.go):
//
//	go run . -size kit  -o /tmp/geo-kit/kit.mmdb   # the shared bench kit's shape
//	go run . -size real -o /tmp/geo-real/real.mmdb # real GeoIP2-City size, >= 5M nodes
//	go run . -stats /tmp/geo-real/real.mmdb
//
// -out is the repository root (default ../../..); the files written are
// listed in fixtures below and described in testdata/geo/README.md. The
// output is deterministic (fixed build time, sorted map keys), so the files
// only change when this program does.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// buildTime is stamped into every fixture so regenerating is reproducible.
var buildTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// place is one network of the fixtures.
type place struct {
	network   string
	continent string // code; "" for none
	country   string // ISO code; "" for none
	regCC     string // registered country; defaults to country
	city      string // "" for a record without a city
	lat, lon  float64
	tz        string
	radius    uint16 // accuracy radius in km; 0: no location in the record
	anycast   bool
}

// places are the networks of every fixture. Networks sharing one city share
// one record (mmdbwriter deduplicates equal values), as in real databases.
var places = []place{
	{network: "8.8.8.0/24", continent: "NA", country: "US", city: "Mountain View", lat: 37.386, lon: -122.0838, tz: "America/Los_Angeles", radius: 100},
	{network: "81.2.69.0/24", continent: "EU", country: "GB", city: "London", lat: 51.5142, lon: -0.0931, tz: "Europe/London", radius: 10},
	{network: "202.12.27.0/24", continent: "AS", country: "JP", city: "Tokyo", lat: 35.6895, lon: 139.6917, tz: "Asia/Tokyo", radius: 50},
	{network: "2001:67c:2e8::/48", continent: "EU", country: "NL", city: "Amsterdam", lat: 52.374, lon: 4.8897, tz: "Europe/Amsterdam", radius: 20},
	{network: "1.1.1.0/24", continent: "OC", country: "AU", city: "Sydney", lat: -33.8688, lon: 151.2093, tz: "Australia/Sydney", radius: 50},
	{network: "200.160.0.0/20", continent: "SA", country: "BR", city: "Sao Paulo", lat: -23.5505, lon: -46.6333, tz: "America/Sao_Paulo", radius: 50},
	{network: "41.0.0.0/16", continent: "AF", country: "ZA", city: "Johannesburg", lat: -26.2041, lon: 28.0473, tz: "Africa/Johannesburg", radius: 50},
	{network: "185.0.0.0/16", continent: "EU", country: "DE", city: "Frankfurt am Main", lat: 50.1109, lon: 8.6821, tz: "Europe/Berlin", radius: 20},
	{network: "2600::/16", continent: "NA", country: "US", city: "Ashburn", lat: 39.0438, lon: -77.4874, tz: "America/New_York", radius: 100},
	{network: "2400:cb00::/32", continent: "AS", country: "SG", city: "Singapore", lat: 1.2897, lon: 103.8501, tz: "Asia/Singapore", radius: 20},
	{network: "133.0.0.0/16", continent: "AS", country: "JP", city: "Osaka", lat: 34.6937, lon: 135.5023, tz: "Asia/Tokyo", radius: 50},
	{network: "49.0.0.0/16", continent: "AS", country: "IN", city: "Mumbai", lat: 19.076, lon: 72.8777, tz: "Asia/Kolkata", radius: 50},
	// Loopback networks for benchmarks and the demo, which can only send from
	// 127/8. 127.0.0.0/24 stays unlisted: the demo config places 127/8 with
	// a rule.
	{network: "127.0.1.0/24", continent: "EU", country: "DE", city: "Frankfurt am Main", lat: 50.1109, lon: 8.6821, tz: "Europe/Berlin", radius: 20},
	{network: "127.0.2.0/24", continent: "AS", country: "IN", city: "Mumbai", lat: 19.076, lon: 72.8777, tz: "Asia/Kolkata", radius: 50},
	// Records as MaxMind writes them for networks it cannot pin down: an
	// anycast network known only by its registered country, and a block
	// known only to be in Europe.
	{network: "104.16.0.0/13", regCC: "US", anycast: true},
	{network: "2a10::/12", continent: "EU"},
}

// fixtures are the files written, relative to -out.
var fixtures = []struct {
	path      string
	dbType    string
	ipVersion int
	schema    string
}{
	{"testdata/demo/demo.mmdb", "GeoIP2-City", 6, city},
	{"testdata/geo/test-city.mmdb", "GeoIP2-City", 6, city},
	{"testdata/geo/test-country.mmdb", "GeoLite2-Country", 6, country},
	{"testdata/geo/test-city-ipv4.mmdb", "GeoIP2-City", 4, city},
	// A file whose type name says country but whose records are not in
	// the GeoIP2 layout, as some third-party databases are: geo must
	// refuse it.
	{"testdata/geo/test-flat-country.mmdb", "Example-Flat-Country", 6, flat},
}

// Record layouts.
const (
	city    = "city"    // GeoIP2 City: continent, country, city, location
	country = "country" // GeoIP2 Country: continent and country only
	flat    = "flat"    // {"country": "US", "continent": "NA"}: not GeoIP2
)

var continentNames = map[string]string{
	"AF": "Africa", "AN": "Antarctica", "AS": "Asia", "EU": "Europe",
	"NA": "North America", "OC": "Oceania", "SA": "South America",
}

var countryNames = map[string]string{
	"AU": "Australia", "BR": "Brazil", "DE": "Germany", "GB": "United Kingdom",
	"IN": "India", "JP": "Japan", "NL": "Netherlands", "SG": "Singapore",
	"US": "United States", "ZA": "South Africa",
}

func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en)}
}

func countryMap(cc string) mmdbtype.Map {
	return mmdbtype.Map{"iso_code": mmdbtype.String(cc), "names": names(countryNames[cc])}
}

// record builds p's data record in the given layout.
func record(p place, schema string) mmdbtype.Map {
	m := mmdbtype.Map{}
	if schema == flat {
		m["country"] = mmdbtype.String(cmpOr(p.country, p.regCC))
		m["continent"] = mmdbtype.String(p.continent)
		return m
	}
	if p.continent != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(p.continent), "names": names(continentNames[p.continent])}
	}
	if p.country != "" {
		m["country"] = countryMap(p.country)
	}
	if reg := cmpOr(p.regCC, p.country); reg != "" {
		m["registered_country"] = countryMap(reg)
	}
	if p.anycast {
		m["traits"] = mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)}
	}
	if schema == city && p.city != "" {
		m["city"] = mmdbtype.Map{"names": names(p.city)}
	}
	if schema == city && p.radius != 0 {
		m["location"] = mmdbtype.Map{
			"latitude":        mmdbtype.Float64(p.lat),
			"longitude":       mmdbtype.Float64(p.lon),
			"accuracy_radius": mmdbtype.Uint16(p.radius),
			"time_zone":       mmdbtype.String(p.tz),
		}
	}
	return m
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// build returns the bytes of one fixture.
func build(dbType string, ipVersion int, schema string) ([]byte, error) {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              buildTime.Unix(),
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "Meridian synthetic test data, not real GeoIP data"},
		IncludeReservedNetworks: true,
		IPVersion:               ipVersion,
		Languages:               []string{"en"},
		RecordSize:              24,
	})
	if err != nil {
		return nil, err
	}
	for _, p := range places {
		_, network, err := net.ParseCIDR(p.network)
		if err != nil {
			return nil, err
		}
		if ipVersion == 4 && network.IP.To4() == nil {
			continue
		}
		if err := w.Insert(network, record(p, schema)); err != nil {
			return nil, fmt.Errorf("%s: %w", p.network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func main() {
	out := flag.String("out", "../../..", "repository root to write the fixtures under")
	check := flag.Bool("check", false, "write nothing; exit 1 if a fixture differs from what would be written")
	size := flag.String("size", "", "write one large benchmark database instead of the fixtures: kit or real (needs -o)")
	outFile := flag.String("o", "", "file the -size database is written to")
	seed := flag.Uint64("seed", 1, "random seed of the -size database; the output is a function of -size and -seed")
	stats := flag.String("stats", "", "print statistics of this mmdb file and exit")
	flag.Parse()
	switch {
	case *stats != "":
		if err := printStats(os.Stdout, *stats); err != nil {
			log.Fatal(err)
		}
		return
	case *size != "":
		if *outFile == "" {
			log.Fatal("-size needs -o FILE")
		}
		if err := writeBig(*size, *seed, *outFile); err != nil {
			log.Fatal(err)
		}
		return
	}
	stale := 0
	for _, f := range fixtures {
		b, err := build(f.dbType, f.ipVersion, f.schema)
		if err != nil {
			log.Fatalf("%s: %v", f.path, err)
		}
		path := filepath.Join(*out, filepath.FromSlash(f.path))
		if *check {
			if old, err := os.ReadFile(path); err != nil || !bytes.Equal(old, b) {
				fmt.Fprintf(os.Stderr, "%s is stale: run go run . in testdata/geo/mkmmdb\n", f.path)
				stale++
			}
			continue
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("wrote %s (%d bytes)\n", path, len(b))
	}
	if stale > 0 {
		os.Exit(1)
	}
}
