package config

import (
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/gslb"
)

// kubeFixture adds a kubernetes section with defaultPolicy as its
// default_policy to the good fixture.
func kubeFixture(t *testing.T, defaultPolicy string) string {
	t.Helper()
	path := fixtureDir(t, func(s string) string {
		return s + "\nkubernetes:\n  kubeconfig: members.kubeconfig\n  default_policy: " + defaultPolicy + "\n"
	})
	writeFile(t, filepath.Join(filepath.Dir(path), "members.kubeconfig"), "apiVersion: v1\nkind: Config\n")
	return path
}

// kubernetes.default_policy is judged by gslb's policy rule against the
// file's sites, and every error names its key under default_policy.
func TestKubeDefaultPolicy(t *testing.T) {
	l := mustLoad(t, kubeFixture(t, "{strategy: topology, topology: [{cidrs: [10.0.0.0/8], sites: [eu-west]}]}"))
	if p := l.KubePolicy; p.Strategy != gslb.StrategyTopology || p.TTL != gslb.DefaultTTL || len(p.Topology) != 1 {
		t.Errorf("default policy %+v: want topology with the defaults applied", p)
	}

	wantLoadErrors(t, kubeFixture(t, `{strategy: topology, persistence: {ipv4_mask: 40},
    down_response: {type: fallback, addresses: [192.0.2.999]},
    topology: [{cidrs: [10.0.0.1/8], sites: [us-east, moon]}]}`), []string{
		// in the order of the file's lines
		`kubernetes.default_policy.persistence.ipv4_mask: must be between 0 and 32, got 40`,
		`kubernetes.default_policy.down_response.addresses[0]: "192.0.2.999" is not an IP address`,
		`kubernetes.default_policy.topology[0].cidrs[0]: "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?`,
		`kubernetes.default_policy.topology[0].sites[1]: unknown site "moon"`,
	})
}
