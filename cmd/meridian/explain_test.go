package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/httpapi"
)

// The members table shows what the decision compared: the biased distance
// beside the distance, and the capacity that scales the weight.
func TestPrintExplainBiasAndCapacity(t *testing.T) {
	km, biased, capacity := 3289.8, 1644.9, 0.2
	r := &httpapi.ExplainResponse{Trace: &gslb.Trace{Members: []gslb.MemberVerdict{
		{Site: "eu-west", Member: "eu-west/198.51.100.10", Weight: 5, Capacity: &capacity, Up: true, HealthKnown: true,
			DistanceKm: &km, BiasedKm: &biased, Verdict: "candidate"},
		{Site: "us-east", Member: "us-east/192.0.2.10", Weight: 5, Up: true, HealthKnown: true, DistanceKm: &km, Verdict: "candidate"},
	}}}
	var out bytes.Buffer
	printExplain(&out, r)
	for _, want := range []string{"5 x 0.2 capacity", "3290 km (biased 1645)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Count(out.String(), "biased") != 1 {
		t.Errorf("an unbiased site shows a biased distance:\n%s", out.String())
	}
}
