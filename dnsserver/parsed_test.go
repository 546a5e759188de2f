package dnsserver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/gslb"
)

// TestZoneParsedOncePerLoad: what the config loader parsed (the zone file
// and the records beside it) is what the server compiles, the same RR
// values, not a second parse of the same strings.
func TestZoneParsedOncePerLoad(t *testing.T) {
	file := filepath.Join(t.TempDir(), "once.zone")
	zone := "$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.80\nmail IN MX 10 www\n"
	if err := os.WriteFile(file, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	z := &gslb.Zone{Name: "once.example.", ZoneFile: file, Records: []string{`cfg 30 IN A 192.0.2.1`}}
	if err := LoadZoneFile(z); err != nil {
		t.Fatal(err)
	}
	z.ZoneFile = "" // as the loader does: the records are in the zone now
	loaded, ok := parsedBefore(zoneName(z), z.Records)
	if !ok || len(loaded) != len(z.Records) {
		t.Fatalf("LoadZoneFile did not keep its parse: %v, %d RRs for %d records", ok, len(loaded), len(z.Records))
	}
	if err := CheckZone(z); err != nil {
		t.Fatal(err)
	}
	c := &compiler{}
	rrs, err := c.records(z)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rrs {
		if rrs[i] != loaded[i] {
			t.Fatalf("record %d parsed again: %v", i, rrs[i])
		}
	}

	// Records the loader never saw are parsed (and then remembered).
	other := &gslb.Zone{Name: "once.example.", Records: []string{`x 30 IN A 192.0.2.2`}}
	if rrs, err := c.records(other); err != nil || len(rrs) != 1 {
		t.Fatalf("new records: %v %v", rrs, err)
	}
}
