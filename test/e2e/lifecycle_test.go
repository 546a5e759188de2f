package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Lifecycle and input defects found by an attack run (issue 9, item 5),
// each checked at the binary.

// shutdownRounds is how many times each shutdown is tried: the panic was
// a race, seen 5 times in 5 alone and 3 in 5 with a live peer.
const shutdownRounds = 5

// SIGTERM to a node with gossip must end in exit code 0 without a panic:
// Kubernetes reads any other exit as a crash. The node left the cluster
// and shut memberlist down on the signal, then was told to leave again,
// and memberlist panics with "leave after shutdown".
func TestLifecycleShutdown(t *testing.T) {
	t.Parallel()
	watchdog(t, 5*time.Minute)
	dir := t.TempDir()
	key := genKey(t, dir, "gossip.key")
	// gossipSection is a node's gossip config. Only a node that others
	// join (joinable) gets a port chosen before it starts, since their
	// configs must name it; the others listen on port 0 (nobody dials
	// them first, and memberlist advertises the port it bound).
	gossipSection := func(t *testing.T, role, site, name, join string, joinable bool) (section, listen string) {
		listen = hostPort("127.0.0.1", 0)
		if joinable {
			listen = hostPort("127.0.0.1", freePort(t, "127.0.0.1"))
		}
		s := fmt.Sprintf("gossip: {role: %s, site: %s, node_name: %s, listen: %s, key_file: %s, timing: local", role, site, name, listen, key)
		if join != "" {
			s += ", join: [" + join + "]"
		}
		return s + "}\n", listen
	}
	checkExit := func(t *testing.T, m *meridian) {
		t.Helper()
		code, out := terminate(t, m)
		if code != 0 || strings.Contains(out, "panic") {
			t.Errorf("SIGTERM: exit code %d (want 0), panic in the output: %v\n%s", code, strings.Contains(out, "panic"), out)
		}
	}

	t.Run("alone", func(t *testing.T) {
		t.Parallel()
		for i := range shutdownRounds {
			section, _ := gossipSection(t, "leader", "a", fmt.Sprintf("alone-%d", i), "", false)
			cfg := writeFile(t, dir, fmt.Sprintf("alone-%d.yaml", i), lifeConfig(section))
			checkExit(t, startHealthMeridian(t, cfg))
		}
	})

	t.Run("with a live peer", func(t *testing.T) {
		t.Parallel()
		section, leaderAddr := gossipSection(t, "leader", "a", "peer-leader", "", true)
		leader := startHealthMeridian(t, writeFile(t, dir, "peer-leader.yaml", lifeConfig(section)))
		for i := range shutdownRounds {
			// A follower without a state file is ready only once it
			// has fetched the leader's state: it is in the cluster.
			section, _ := gossipSection(t, "follower", "b", fmt.Sprintf("peer-follower-%d", i), leaderAddr, false)
			cfg := writeFile(t, dir, fmt.Sprintf("peer-follower-%d.yaml", i), section)
			checkExit(t, startHealthMeridian(t, cfg))
			if leader.Exited() {
				t.Fatalf("the leader exited when a follower left (%v)", leader.Err())
			}
		}
		// And the other way round: the leader, with its last follower up.
		section, _ = gossipSection(t, "follower", "b", "peer-follower-last", leaderAddr, false)
		follower := startHealthMeridian(t, writeFile(t, dir, "peer-follower-last.yaml", section))
		checkExit(t, leader)
		checkExit(t, follower)
	})
}

// A configured path that is not a regular file (a FIFO here: opening it
// blocks until a writer comes) is refused at once with the field named,
// by check-config and by a live reload, which must not block the single
// reload loop.
func TestLifecycleNonRegularFiles(t *testing.T) {
	t.Parallel()
	watchdog(t, 5*time.Minute)
	dir := t.TempDir()
	fifo := makeFIFO(t, dir, "fifo")

	cases := []struct {
		field string // the path the error must name
		file  string
	}{
		{"geo.database", lifeConfig("geo: {database: " + fifo + "}\n")},
		{"zones[0].zone_file", strings.Replace(lifeConfig(""), "    nameservers:", "    zone_file: "+fifo+"\n    nameservers:", 1)},
		{"admin.token_file", lifeConfig("admin: {token_file: " + fifo + "}\n")},
		{"services[0].health_check.ca_file", strings.Replace(lifeConfig(""), "    members:", "    health_check: {kind: https, port: 443, ca_file: "+fifo+"}\n    members:", 1)},
		{"gossip.key_file", lifeConfig("gossip: {role: leader, site: a, key_file: " + fifo + "}\n")},
		{"kubernetes.kubeconfig", lifeConfig("kubernetes: {kubeconfig: " + fifo + "}\n")},
	}
	for i, c := range cases {
		t.Run("check-config "+c.field, func(t *testing.T) {
			t.Parallel()
			cfg := writeFile(t, dir, fmt.Sprintf("fifo-%d.yaml", i), c.file)
			out, code := checkConfig(t, cfg)
			if code == 0 || !strings.Contains(out, c.field) || !strings.Contains(out, "not a regular file") {
				t.Errorf("check-config with %s a FIFO: exit %d, want non-zero and an error naming %s with \"not a regular file\":\n%s", c.field, code, c.field, out)
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		t.Parallel()
		cfg := writeFile(t, dir, "reload.yaml", lifeConfig(""))
		m := startHealthMeridian(t, cfg)
		both := func(ttl uint32) func(answer) bool {
			return func(a answer) bool { return exactly("192.0.2.1", "192.0.2.2")(a) && a.ttl == ttl }
		}
		waitAnswer(t, m, "app.life.test", "first config", both(30))
		const failures = `meridian_config_reloads_total{result="failure"}`
		const bound = 10 * time.Second

		t.Run("rejected", func(t *testing.T) {
			proctest.ReplaceFile(t, cfg, lifeZone+lifeServices(50)+"geo: {database: "+fifo+"}\n")
			if !waitMetric(t, m, failures, 1, bound) {
				t.Errorf("a reload with geo.database a FIFO was neither applied nor rejected within %v: it blocks the reload loop\n%s", bound, m.Out.String())
				return
			}
			if out := m.Out.String(); !strings.Contains(out, "geo.database") || !strings.Contains(out, "not a regular file") {
				t.Errorf("the rejected reload's log does not name geo.database with \"not a regular file\":\n%s", out)
			}
		})
		t.Run("old config kept", func(t *testing.T) {
			if a := ask(t, m, "app.life.test"); !both(30)(a) {
				t.Errorf("after the rejected reload: %s, want the old config's answer (ttl 30)", a)
			}
		})
		t.Run("SIGHUP still reloads", func(t *testing.T) {
			before := metric(t, m, failures)
			must(t, m.Signal(syscall.SIGHUP))
			if !waitMetric(t, m, failures, before+1, bound) {
				t.Errorf("SIGHUP after the FIFO reload: no reload within %v (failures still %v)", bound, before)
			}
		})
		t.Run("later good edit applied", func(t *testing.T) {
			proctest.ReplaceFile(t, cfg, lifeZone+lifeServices(40))
			deadline := time.Now().Add(bound)
			for a := ask(t, m, "app.life.test"); !both(40)(a); a = ask(t, m, "app.life.test") {
				if time.Now().After(deadline) {
					t.Fatalf("a good edit after the FIFO reload is not served after %v: %s, want ttl 40", bound, a)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	})
}

// check-config says what is wrong with the file itself, not what follows
// from it.
func TestLifecycleConfigDefects(t *testing.T) {
	t.Parallel()
	// Its subtests are quick and run in sequence: parallel subtests
	// would wait for a free slot behind the package's other parallel
	// tests while this watchdog runs.
	watchdog(t, 2*time.Minute)
	dir := t.TempDir()

	t.Run("empty file", func(t *testing.T) {
		cfg := writeFile(t, dir, "empty.yaml", "")
		out, code := checkConfig(t, cfg)
		if code == 0 || !strings.Contains(strings.ToLower(out), "empty") || strings.Contains(out, "at least one zone") {
			t.Errorf("check-config of a 0-byte file: exit %d, want non-zero saying the file is empty (not that a zone is missing):\n%s", code, out)
		}
	})

	weights := func(a, b int) string {
		return lifeZone + fmt.Sprintf(`services:
  - name: app.life.test.
    policy: {strategy: weighted, ttl: 30}
    members:
      - {site: a, addresses: [192.0.2.1], weight: %d}
      - {site: b, addresses: [192.0.2.2], weight: %d}
`, a, b)
	}
	t.Run("all weights 0", func(t *testing.T) {
		// The service could only ever answer NODATA.
		cfg := writeFile(t, dir, "zero.yaml", weights(0, 0))
		out, code := checkConfig(t, cfg)
		if code == 0 || !strings.Contains(out, "services[0]") || !strings.Contains(out, "weight") {
			t.Errorf("check-config with every weight of a service 0: exit %d, want non-zero and an error naming services[0] and its weights:\n%s", code, out)
		}
	})
	t.Run("one weight 0 drains", func(t *testing.T) {
		// Draining one member is documented and stays valid.
		cfg := writeFile(t, dir, "drain.yaml", weights(0, 1))
		if out, code := checkConfig(t, cfg); code != 0 {
			t.Errorf("check-config with one member drained (weight 0): exit %d, want 0:\n%s", code, out)
		}
	})
}

// The HTTP API refuses malformed input with 400 and changes nothing.
func TestLifecycleHTTPInput(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dir := t.TempDir()
	const token = "lifecycle-admin-token-0123456789"
	cfg := writeFile(t, dir, "meridian.yaml", lifeConfig("admin: {token: "+token+"}\n"))
	m := startHealthMeridian(t, cfg)
	both := exactly("192.0.2.1", "192.0.2.2")
	waitAnswer(t, m, "app.life.test", "first config", both)

	const site = "/api/v1/admin/sites/b"
	for _, body := range []string{
		`{"mode":"drain"} garbage`,
		`{"mode":"drain"}{"mode":"up"}`,
		`{"mode":"drain"}` + "\n" + `{"mode":"drain"}`,
		`{"mode":"drain"}]`,
	} {
		t.Run("admin PUT "+body, func(t *testing.T) {
			t.Cleanup(func() { adminCall(t, m, "DELETE", site, token, "") })
			code, resp := adminCall(t, m, "PUT", site, token, body)
			if code != 400 {
				t.Errorf("PUT %s with body %q: status %d, want 400:\n%s", site, body, code, resp)
			}
			if _, list := adminCall(t, m, "GET", "/api/v1/admin", token, ""); strings.Contains(list, "drain") {
				t.Errorf("a refused PUT changed the overrides:\n%s", list)
			}
			if a := ask(t, m, "app.life.test"); !both(a) {
				t.Errorf("a refused PUT changed the answers: %s", a)
			}
		})
	}
	t.Run("admin PUT valid body", func(t *testing.T) {
		// The control: one object, with or without a final newline.
		for _, body := range []string{`{"mode":"drain"}`, `{"mode": "drain"}` + "\n"} {
			if code, resp := adminCall(t, m, "PUT", site, token, body); code != 200 {
				t.Errorf("PUT %s with body %q: status %d, want 200:\n%s", site, body, code, resp)
			}
			waitAnswer(t, m, "app.life.test", "site b drained", exactly("192.0.2.1"))
			if code, resp := adminCall(t, m, "DELETE", site, token, ""); code != 200 {
				t.Errorf("DELETE %s: status %d:\n%s", site, code, resp)
			}
			waitAnswer(t, m, "app.life.test", "site b back", both)
		}
	})

	explain := func(name string) (int, string) {
		q := url.Values{"name": {name}, "type": {"A"}, "client": {"192.0.2.1"}}
		return proctest.HTTP(t, "GET", m.HTTP+"/api/v1/explain?"+q.Encode())
	}
	for _, c := range []struct{ what, name string }{
		{"two dots", ".."},
		{"empty label", "app..life.test."},
		{"NUL byte", "app\x00.life.test."},
		{"label over 63 octets", strings.Repeat("a", 64) + ".life.test."},
		{"name over 255 octets", strings.Repeat("abcdefghi.", 26) + "life.test."},
	} {
		t.Run("explain "+c.what, func(t *testing.T) {
			code, body := explain(c.name)
			if code != 400 || !strings.Contains(body, "name") {
				t.Errorf("explain %q: status %d, want 400 naming the problem with the name:\n%s", c.name, code, body)
			}
		})
	}
	t.Run("explain valid name", func(t *testing.T) {
		if code, body := explain("app.life.test."); code != 200 {
			t.Errorf("explain app.life.test.: status %d, want 200:\n%s", code, body)
		}
	})
}
