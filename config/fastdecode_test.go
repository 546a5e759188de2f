package config

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-viper/mapstructure/v2"
	"go.yaml.in/yaml/v3"
)

// exactDecode decodes one services entry the way the whole file is
// decoded: yaml into maps, keys lower-cased, mapstructure.
func exactDecode(t *testing.T, n *yaml.Node) (ServiceConfig, error) {
	t.Helper()
	var raw any
	if err := n.Decode(&raw); err != nil {
		return ServiceConfig{}, err
	}
	entry, ok := lowerKeys(raw)
	if !ok {
		return ServiceConfig{}, errors.New("a key that is not a string")
	}
	var sc ServiceConfig
	dc := &mapstructure.DecoderConfig{Result: &sc}
	decoderOptions(dc)
	d, err := mapstructure.NewDecoder(dc)
	must(t, err)
	return sc, d.Decode(entry)
}

// fastCases are services entries, each with whether fastDecode must
// take it.
var fastCases = []struct {
	entry string
	fast  bool
}{
	{"name: app.x.\npolicy: {strategy: geo, ttl: 30}\nmembers:\n  - {site: s0, addresses: [10.0.0.1], probe_address: 127.0.0.1}", true},
	{"name: app.x.\nhealth_check: {kind: none}\nmembers: [{site: s0, hostname: a.b., weight: 0, priority: -2}]", true},
	{"Name: app.x.\nPOLICY: {Strategy: weighted, persistence: {enabled: true, ipv4_mask: 20}}\nmembers: []", true},
	{"name: app.x.\nhealth_check: {kind: http, interval: 2s, timeout: \" 500ms \", rise: 2, tls_skip_verify: false, port: 8443}", true},
	{"name: ~\npolicy: null\nmembers:\nhealth_check:", true},
	{"name: app.x.\npolicy: {geo_tie_km: 12.5, answers: 2, min_up: 0}", true},
	{"name: app.x.\npolicy: {geo_tie_km: 12, topology: [{cidrs: [10.0.0.0/8], sites: [a, b]}]}", true},
	{"name: app.x.\npolicy: {down_response: {type: fallback, addresses: []}}", true},
	{"name: app.x.\nhealth_check: {jitter: \"10%\"}", true},
	{"name: app.x.\nmembers: [{site: s0, weight: 4294967296}]", true},
	// Declined: the exact decode converts or refuses these.
	{"name: app.x.\npolicy: {ttl: 010}", false},
	{"name: app.x.\npolicy: {ttl: 0x10}", false},
	{"name: app.x.\npolicy: {ttl: 1_000}", false},
	{"name: app.x.\npolicy: {ttl: \"30\"}", false},
	{"name: app.x.\npolicy: {ttl: -30}", false},
	{"name: app.x.\npolicy: {ttl: 4294967296}", false},
	{"name: app.x.\npolicy: {ttl: 30.0}", false},
	{"name: app.x.\npolicy: {geo_tie_km: 1e3}", false},
	{"name: app.x.\npolicy: {geo_tie_km: .5}", false},
	{"name: app.x.\nmembers: [{site: s0, probe_port: 70000}]", false},
	{"name: 42\n", false},
	{"name: 2001-12-14\n", false},
	{"name: app.x.\nhealth_check: {tls_skip_verify: True}", false},
	{"name: app.x.\nhealth_check: {tls_skip_verify: 1}", false},
	{"name: app.x.\nhealth_check: {interval: 10}", false},
	{"name: app.x.\nhealth_check: {interval: soon}", false},
	{"name: app.x.\nhealth_check: {expect_status: [200, \"300-399\"]}", false},
	{"name: app.x.\nhealth_check: {jitter: 0.1}", false},
	{"name: app.x.\nmembers: [{site: s0, addresses: 10.0.0.1}]", false},
	{"name: app.x.\nmembers: {site: s0}", false},
	{"name: app.x.\npolicy: geo", false},
	{"name: app.x.\npolicy: {strategyy: geo}", false},
	{"name: app.x.\nname: app.y.", false},
	{"name: app.x.\nNAME: app.y.", false},
	{"name: !!binary aGVsbG8=", false},
	{"name: !custom x", false},
}

// TestFastDecodeAgrees: whenever fastDecode takes an entry, it decodes
// it exactly as the whole file's decode would; what it cannot be sure
// of it declines.
func TestFastDecodeAgrees(t *testing.T) {
	for _, tc := range fastCases {
		var doc yaml.Node
		must(t, yaml.Unmarshal([]byte(tc.entry), &doc))
		n := doc.Content[0]
		var fast ServiceConfig
		took := fastDecode(n, &fast)
		if took != tc.fast {
			t.Errorf("%q: fastDecode took it: %v, want %v", tc.entry, took, tc.fast)
		}
		if !took {
			continue
		}
		agree(t, tc.entry, n, fast)
	}
}

// agree fails unless the exact decode of n gives fast.
func agree(t *testing.T, entry string, n *yaml.Node, fast ServiceConfig) {
	t.Helper()
	exact, err := exactDecode(t, n)
	if err != nil {
		t.Errorf("%q: fastDecode took what the exact decode refuses: %v", entry, err)
		return
	}
	if !reflect.DeepEqual(fast, exact) {
		t.Errorf("%q:\nfast  %+v\nexact %+v", entry, fast, exact)
	}
}

// FuzzFastDecodeAgrees looks for an entry fastDecode takes and decodes
// otherwise than the exact decode.
func FuzzFastDecodeAgrees(f *testing.F) {
	for _, tc := range fastCases {
		f.Add(tc.entry)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(entry), &doc) != nil || len(doc.Content) != 1 {
			return
		}
		var fast ServiceConfig
		if fastDecode(doc.Content[0], &fast) {
			agree(t, entry, doc.Content[0], fast)
		}
	})
}
