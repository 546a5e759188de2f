package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// A leader and two followers as separate meridian processes on their own
// loopback addresses, with real HTTP backends: the acceptance of issue #5.
// Every wait is a bounded poll (hangGuard), never a sleep-and-assert.
func TestSitesLeaderAndFollowers(t *testing.T) {
	t.Parallel()
	watchdog(t, 4*time.Minute)
	dir := t.TempDir()

	// Backends of sites a, b and c, probed by every site.
	ips := []string{"127.33.1.1", "127.33.2.1", "127.33.3.1"}
	port, lns := listenSamePort(t, ips...)
	var bs []*backend
	for _, ln := range lns {
		bs = append(bs, startBackendOn(t, ln, nil))
	}

	key := genKey(t, dir, "gossip.key")
	nodeIPs := []string{"127.33.0.1", "127.33.0.2", "127.33.0.3"}
	gossipAddr := make([]string, 3)
	for i, ip := range nodeIPs {
		gossipAddr[i] = hostPort(ip, freePortOn(t, ip))
	}
	gossip := func(role, site string, i int, keyFile string) string {
		// Every node lists the others, as a deployment should: a
		// restarted leader finds the cluster itself instead of waiting
		// for the followers' periodic rejoin.
		var peers []string
		for j, a := range gossipAddr {
			if j != i {
				peers = append(peers, a)
			}
		}
		join := fmt.Sprintf(", join: [%s]", strings.Join(peers, ", "))
		return fmt.Sprintf(`health: {rule: majority, source_ttl: 2s}
gossip: {role: %s, site: %s, node_name: node-%s, listen: %s, key_file: %s, state_file: %s, timing: local, push_pull_interval: 1s%s}
`, role, site, site, gossipAddr[i], keyFile, filepath.Join(dir, "state-"+site+".json"), join)
	}

	leaderDir := filepath.Join(dir, "leader")
	must(t, os.Mkdir(leaderDir, 0o755))
	svcs := func(ttl int) []hsvc {
		return []hsvc{{
			name:   "app",
			policy: fmt.Sprintf("{strategy: roundrobin, ttl: %d, degraded_ttl: 5}", ttl),
			check:  httpCheck("http", port, "path: /healthz"),
			members: []string{
				"{site: a, addresses: [" + ips[0] + "]}", "{site: b, addresses: [" + ips[1] + "]}", "{site: c, addresses: [" + ips[2] + "]}",
			},
		}}
	}
	leaderCfg := healthConfig(t, leaderDir, svcs(30), gossip("leader", "a", 0, key))
	followerCfg := func(site string, i int, keyFile string) string {
		d := filepath.Join(dir, site)
		must(t, os.MkdirAll(d, 0o755))
		return writeFile(t, d, "meridian.yaml", "log: {level: debug}\n"+gossip("follower", site, i, keyFile))
	}
	cfgB, cfgC := followerCfg("b", 1, key), followerCfg("c", 2, key)

	// DNS and HTTP on port 0 (the ready file says where): a restarted
	// node may listen elsewhere. Gossip addresses are fixed above, since
	// every peer's config names them.
	type node struct {
		*meridian
		cfg, ip string
	}
	start := func(cfg, ip string) *node {
		n := &node{cfg: cfg, ip: ip}
		n.meridian = startMeridian(t, cfg, []string{hostPort(ip, 0)}, hostPort(ip, 0))
		return n
	}
	restart := func(n *node) {
		n.meridian = startMeridian(t, n.cfg, []string{hostPort(n.ip, 0)}, hostPort(n.ip, 0))
	}
	leader := start(leaderCfg, nodeIPs[0])
	fb := start(cfgB, nodeIPs[1])
	fc := start(cfgC, nodeIPs[2])
	all := []*node{leader, fb, fc}
	everywhere := func(nodes []*node, what string, want func(answer) bool) {
		t.Helper()
		for _, n := range nodes {
			waitAnswer(t, n.meridian, "app.health.test", what+" at "+n.HTTP, want)
		}
	}

	// All three answer identically, from the leader's state.
	everywhere(all, "first state", exactly(ips...))
	v1 := stateVersion(t, leader.meridian)
	for _, f := range []*node{fb, fc} {
		if v := waitVersion(t, f.meridian, v1); v != v1 {
			t.Errorf("%s holds %v, the leader %v", f.HTTP, v, v1)
		}
	}

	// A change of the leader's config reaches every follower's answers.
	rewriteConfig(t, leaderCfg, "ttl: 30", "ttl: 40")
	for _, n := range all {
		waitAnswer(t, n.meridian, "app.health.test", "TTL change at "+n.HTTP, func(a answer) bool { return exactly(ips...)(a) && a.ttl == 40 })
	}
	v2 := stateVersion(t, leader.meridian)
	if !newer(v2, v1) {
		t.Errorf("after a reload the leader's version %v is not newer than %v", v2, v1)
	}

	// A backend killed: every site drops it, each on its own probes and
	// its peers' (rule majority).
	bs[1].kill()
	everywhere(all, "b killed", exactly(ips[0], ips[2]))
	if _, body := proctest.HTTP(t, "GET", fb.HTTP+"/api/v1/sites"); !strings.Contains(body, `"observations"`) || !strings.Contains(body, `"site": "a"`) {
		t.Errorf("/api/v1/sites of a follower lacks the observation table or the leader's site:\n%s", body)
	}
	// The majority (this site and c) can turn b down before a's own
	// observation arrives: poll until the view of every site is there.
	for deadline := time.Now().Add(hangGuard); ; {
		out, err := run(t, 15*time.Second, meridianBin, "explain", "app.health.test", "--client", "192.0.2.1", "--server", fb.HTTP)
		if err == nil && strings.Contains(out, "site/a down") && strings.Contains(out, "rule majority: down") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("a follower's explain should show each site's view of b (err %v):\n%s", err, out)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The leader killed: the followers keep answering, and keep failing
	// over on their own and each other's probes.
	leader.Cmd.Process.Kill()
	<-leader.Done()
	bs[1].revive()
	everywhere([]*node{fb, fc}, "b revived, leader gone", exactly(ips...))
	bs[2].kill()
	everywhere([]*node{fb, fc}, "c killed, leader gone", exactly(ips[0], ips[1]))

	// A follower restarted while the leader is down serves its state file
	// at once (startMeridian waits for /readyz, which a follower without
	// a state refuses).
	fc.Stop(syscall.SIGTERM, proctest.StopGrace)
	restart(fc)
	if a := ask(t, fc.meridian, "app.health.test"); a.rcode != 0 || len(a.addrs) == 0 {
		t.Errorf("restarted follower without a leader answers %s, want its state file's service", a)
	}
	if v := stateVersion(t, fc.meridian); v != v2 {
		t.Errorf("restarted follower serves %v, want the state file's %v", v, v2)
	}
	everywhere([]*node{fc}, "restarted follower probes c", exactly(ips[0], ips[1]))
	bs[2].revive()

	// The leader back: a higher term, and its changes reach the
	// followers again.
	restart(leader)
	v3 := waitVersionAbove(t, leader.meridian, v2)
	if v3.Term <= v2.Term {
		t.Errorf("restarted leader publishes %v, want a term above %v", v3, v2)
	}
	rewriteConfig(t, leaderCfg, "ttl: 40", "ttl: 50")
	for _, n := range all {
		waitAnswer(t, n.meridian, "app.health.test", "TTL change after the leader's restart at "+n.HTTP, func(a answer) bool { return exactly(ips...)(a) && a.ttl == 50 })
	}
	v4 := stateVersion(t, leader.meridian)
	for _, f := range []*node{fb, fc} {
		waitVersion(t, f.meridian, v4)
	}

	// A node with another key is rejected with a clear log, and no state
	// of it is accepted: it leads a zone of its own at a higher term.
	otherKey := genKey(t, dir, "other.key")
	rogueDir := filepath.Join(dir, "rogue")
	must(t, os.Mkdir(rogueDir, 0o755))
	rogueGossip := strings.Replace(gossip("leader", "a", 1, otherKey), "node-a", "node-rogue", 1)
	// Nobody's config names the rogue's gossip address: port 0.
	rogueGossip = strings.Replace(rogueGossip, gossipAddr[1], hostPort("127.33.0.4", 0), 1)
	rogueGossip = strings.Replace(rogueGossip, "state-a.json", "state-rogue.json", 1)
	rogueCfg := healthConfig(t, rogueDir, svcs(77), rogueGossip)
	rogue := start(rogueCfg, "127.33.0.4")
	// The sync point: the rogue has tried to join and been refused.
	if _, err := rogue.WaitLine(hangGuard, "different gossip key"); err != nil {
		t.Fatalf("the node with the wrong key logs no key problem: %v", err)
	}
	_, body := proctest.HTTP(t, "GET", rogue.HTTP+"/api/v1/sites")
	if !strings.Contains(body, `"joined": false`) {
		t.Errorf("the wrong-key node says it joined:\n%s", body)
	}
	// Then, for three push/pull intervals (1 s) while the rogue keeps
	// trying, no follower takes its state.
	proctest.Stays(t, 3*time.Second, "the followers' state and answers, untouched by the wrong-key node", func() bool {
		for _, f := range []*node{fb, fc} {
			if v := stateVersion(t, f.meridian); v != v4 {
				t.Errorf("%s now holds %v, want still %v", f.HTTP, v, v4)
				return false
			}
			if a := ask(t, f.meridian, "app.health.test"); a.ttl == 77 {
				t.Errorf("%s answers with the wrong-key node's state: %s", f.HTTP, a)
				return false
			}
		}
		return true
	})
}

// genKey writes a new gossip key file with `meridian gossip-key`.
func genKey(t *testing.T, dir, name string) string {
	t.Helper()
	out, err := exec.Command(meridianBin, "gossip-key").Output()
	if err != nil {
		t.Fatalf("meridian gossip-key: %v", err)
	}
	return writeFile(t, dir, name, string(out))
}

// rewriteConfig replaces old with new in the file, atomically (rename),
// as config management does; the server reloads on the change.
func rewriteConfig(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	must(t, os.WriteFile(path+".tmp", []byte(strings.Replace(string(b), old, new, 1)), 0o644))
	must(t, os.Rename(path+".tmp", path))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type version struct {
	Term       uint64 `json:"term"`
	Generation uint64 `json:"generation"`
}

func newer(a, b version) bool {
	return a.Term > b.Term || a.Term == b.Term && a.Generation > b.Generation
}

// stateVersion is the version of the state m serves (/api/v1/sites).
func stateVersion(t *testing.T, m *meridian) version {
	t.Helper()
	_, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/sites")
	var s struct {
		State *struct {
			Version version `json:"version"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/api/v1/sites: %v\n%s", err, body)
	}
	if s.State == nil {
		return version{}
	}
	return s.State.Version
}

// waitVersion waits until m holds at least v, and returns what it holds.
func waitVersion(t *testing.T, m *meridian, v version) version {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		got := stateVersion(t, m)
		if got == v || newer(got, v) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %v after %v, want %v", m.HTTP, got, hangGuard, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitVersionAbove waits until m holds a version newer than v.
func waitVersionAbove(t *testing.T, m *meridian, v version) version {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		got := stateVersion(t, m)
		if newer(got, v) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %v after %v, want newer than %v", m.HTTP, got, hangGuard, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
