package config

import (
	"path/filepath"
	"slices"
	"testing"
)

// Every path key is relative to the config file's directory; the watched
// ones (a change reloads) are in the watch list, the others are not.
func TestEveryPathKeyIsResolved(t *testing.T) {
	c := &Config{
		Geo:        GeoConfig{Database: "geo.mmdb"},
		Zones:      []ZoneConfig{{ZoneFile: "z.zone"}, {}},
		Admin:      AdminConfig{TokenFile: "token"},
		Health:     HealthConfig{DefaultCheck: &HealthCheckConfig{CAFile: "default-ca.pem"}},
		Services:   []ServiceConfig{{HealthCheck: &HealthCheckConfig{CAFile: "svc-ca.pem"}}, {}},
		Gossip:     GossipConfig{KeyFile: "gossip.key", StateFile: "state.json"},
		Kubernetes: KubernetesConfig{Kubeconfig: "members.kubeconfig", PolicyKubeconfig: "policy.kubeconfig"},
	}
	dir := t.TempDir()
	c.resolvePaths(dir, nil)
	in := func(name string) string { return filepath.Join(dir, name) }
	for _, got := range []struct{ key, value, want string }{
		{"geo.database", c.Geo.Database, in("geo.mmdb")},
		{"zones[0].zone_file", c.Zones[0].ZoneFile, in("z.zone")},
		{"zones[1].zone_file", c.Zones[1].ZoneFile, ""},
		{"admin.token_file", c.Admin.TokenFile, in("token")},
		{"health.default_check.ca_file", c.Health.DefaultCheck.CAFile, in("default-ca.pem")},
		{"services[0].health_check.ca_file", c.Services[0].HealthCheck.CAFile, in("svc-ca.pem")},
		{"gossip.key_file", c.Gossip.KeyFile, in("gossip.key")},
		{"gossip.state_file", c.Gossip.StateFile, in("state.json")},
		{"kubernetes.kubeconfig", c.Kubernetes.Kubeconfig, in("members.kubeconfig")},
		{"kubernetes.policy_kubeconfig", c.Kubernetes.PolicyKubeconfig, in("policy.kubeconfig")},
	} {
		if got.value != got.want {
			t.Errorf("%s = %q, want %q", got.key, got.value, got.want)
		}
	}
	want := []string{in("meridian.yaml"), in("geo.mmdb"), in("z.zone"), in("token"), in("default-ca.pem"),
		in("svc-ca.pem"), in("gossip.key"), in("members.kubeconfig")}
	if got := c.watchFiles(in("meridian.yaml")); !slices.Equal(got, want) {
		t.Errorf("watchFiles:\n got %q\nwant %q", got, want)
	}
}
