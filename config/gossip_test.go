package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/sites"
)

// withGossip appends a gossip section (and a key file beside the config)
// to the good fixture.
func withGossip(t *testing.T, section string) string {
	t.Helper()
	path := fixtureDir(t, func(s string) string { return s + "\n" + section + "\n" })
	key, err := sites.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(filepath.Dir(path), "gossip.key"), key+"\n")
	return path
}

func TestGossipConfigLoads(t *testing.T) {
	path := withGossip(t, "gossip: {role: Leader, site: us-east, listen: 127.0.0.1:7946, join: [127.0.0.2], key_file: gossip.key, state_file: state.json}")
	l, err := Load(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	g := l.Config.Gossip
	dir := filepath.Dir(path)
	if g.SiteRole() != sites.RoleLeader || g.Timing != "wan" || g.NodeName == "" || !strings.HasSuffix(g.NodeName, "-us-east") {
		t.Errorf("defaults: %+v", g)
	}
	if g.KeyFile != filepath.Join(dir, "gossip.key") || g.StateFile != filepath.Join(dir, "state.json") {
		t.Errorf("paths not resolved against the config's directory: %+v", g)
	}
	if !strings.Contains(strings.Join(l.Watch, " "), g.KeyFile) {
		t.Errorf("the key file is not watched (rotation): %v", l.Watch)
	}
	sc := g.SitesConfig("test")
	if sc.BindAddr != "127.0.0.1" || sc.BindPort != 7946 || sc.Site != "us-east" {
		t.Errorf("sites config %+v", sc)
	}
}

// A follower's file holds only its local settings.
func TestGossipFollowerConfig(t *testing.T) {
	dir := t.TempDir()
	key, _ := sites.GenerateKey()
	writeFile(t, filepath.Join(dir, "gossip.key"), key)
	path := filepath.Join(dir, "meridian.yaml")
	writeFile(t, path, "gossip: {role: follower, site: eu-west, join: [leader.example:7946], key_file: gossip.key}\n")
	l, err := Load(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.State.Services) != 0 || !l.Config.Gossip.Follower() {
		t.Errorf("follower state %+v", l.State)
	}
}

func TestGossipConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, section string
		want          []string
	}{
		{"unknown role", "gossip: {role: boss, site: us-east, insecure: true}", []string{"gossip.role: unknown role \"boss\""}},
		{"settings without a role", "gossip: {site: us-east, join: [a]}", []string{"gossip.role: set leader or follower"}},
		{"no site", "gossip: {role: leader, insecure: true}", []string{"gossip.site: required"}},
		{"leader's site unknown", "gossip: {role: leader, site: mars, insecure: true}", []string{`gossip.site: unknown site "mars"`}},
		{"no key", "gossip: {role: leader, site: us-east}", []string{"gossip.key_file: required"}},
		{"key and insecure", "gossip: {role: leader, site: us-east, key_file: gossip.key, insecure: true}", []string{"gossip.insecure: conflicts with key_file"}},
		{"missing key file", "gossip: {role: leader, site: us-east, key_file: nope.key}", []string{"gossip.key_file: "}},
		{"bad listen", "gossip: {role: leader, site: us-east, insecure: true, listen: nowhere}", []string{"gossip.listen: "}},
		{"advertise and advertise_service", "gossip: {role: leader, site: us-east, insecure: true, advertise: 10.0.0.1:7946, advertise_service: meridian/meridian-0-gossip}", []string{"gossip.advertise_service: conflicts with advertise"}},
		{"advertise_service not namespace/name", "gossip: {role: leader, site: us-east, insecure: true, advertise_service: meridian-0-gossip}", []string{`gossip.advertise_service: "meridian-0-gossip" is not namespace/name`}},
		{"bad timing", "gossip: {role: leader, site: us-east, insecure: true, timing: fast}", []string{`gossip.timing: unknown timing "fast"`}},
		{"follower with services", "gossip: {role: follower, site: us-east, insecure: true}", []string{
			"zones: a follower serves the leader's", "sites: a follower serves the leader's", "services: a follower serves the leader's"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Options{File: withGossip(t, tc.section)})
			if err == nil {
				t.Fatal("Loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// A StatefulSet's pods share one file: the chart gives each its gossip
// identity in the environment (deploy/helm, the downward API).
func TestGossipIdentityFromEnvironment(t *testing.T) {
	path := withGossip(t, "gossip: {role: leader, site: us-east, key_file: gossip.key}")
	t.Setenv("MERIDIAN_GOSSIP_NODE_NAME", "meridian-1")
	t.Setenv("MERIDIAN_GOSSIP_LISTEN", "127.0.0.3:7947")
	t.Setenv("MERIDIAN_GOSSIP_ADVERTISE", "10.1.2.3:7946")
	l, err := Load(Options{File: path})
	if err != nil {
		t.Fatal(err)
	}
	g := l.Config.Gossip
	if g.NodeName != "meridian-1" || g.Listen != "127.0.0.3:7947" || g.Advertise != "10.1.2.3:7946" {
		t.Errorf("environment not applied: %+v", g)
	}
	sc := g.SitesConfig("test")
	if sc.NodeName != "meridian-1" || sc.AdvertiseAddr != "10.1.2.3" || sc.AdvertisePort != 7946 || sc.BindAddr != "127.0.0.3" {
		t.Errorf("sites config %+v", sc)
	}

	t.Setenv("MERIDIAN_GOSSIP_ADVERTISE", "")
	t.Setenv("MERIDIAN_GOSSIP_ADVERTISE_SERVICE", "meridian/meridian-1-gossip")
	if l, err = Load(Options{File: path}); err != nil {
		t.Fatal(err)
	}
	if g := l.Config.Gossip; g.AdvertiseService != "meridian/meridian-1-gossip" || g.Advertise != "" {
		t.Errorf("advertise_service not applied: %+v", g)
	}
}
