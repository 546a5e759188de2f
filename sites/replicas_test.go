package sites

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lastWord is the sink's last call about site's view of key: "up",
// "down", "removed", "forgotten" or "" when none.
func (s *sink) lastWord(site, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	word := ""
	for _, e := range s.events {
		switch {
		case e.site != site:
		case e.op == "forget":
			word = "forgotten"
		case e.key != key:
		case e.op == "remove":
			word = "removed"
		case e.up:
			word = "up"
		default:
			word = "down"
		}
	}
	return word
}

// Two replicas of one site vote as one site: the newest observation
// either made is the site's view; a replica's withdrawal, or its
// departure, lets the other's view stand.
func TestReplicasVoteAsOneSite(t *testing.T) {
	leader := startNode(t, "leader", "site-00", RoleLeader, nil)
	a1 := startNode(t, "a-0", "site-a", RoleFollower, joinTo(leader))
	a2 := startNode(t, "a-1", "site-a", RoleFollower, joinTo(leader))
	const key = "10.0.0.1:443#check"
	since := time.Unix(1700000000, 0)
	word := func(want string) {
		t.Helper()
		waitFor(t, "site-a's view "+want, func() bool { return leader.sink.lastWord("site-a", key) == want })
	}

	a1.ShareObservation(key, true, since, "")
	word("up")
	a2.ShareObservation(key, false, since.Add(time.Second), "refused")
	word("down")
	// Push/pull now carries both replicas' entries to the leader again
	// and again, in whatever order: the newer one stays the site's view.
	time.Sleep(time.Second)
	word("down")

	// a-1 stops probing the key: a-0's view is the site's.
	a2.WithdrawObservation(key)
	word("up")
	a2.ShareObservation(key, false, since.Add(2*time.Second), "refused")
	word("down")

	// a-1 leaves: the site stays (a-0 is alive), with a-0's view.
	if err := a2.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	_ = a2.Shutdown()
	word("up")
	if _, ok := leader.sink.find(func(e sinkEvent) bool { return e.op == "forget" }); ok {
		t.Error("the leader forgot site-a while a replica of it is alive")
	}
	_ = a1
}

// A resolved advertise address is what the node advertises, and it is
// remembered beside the state file: a restart whose resolver fails uses
// it; without it, Start fails and says why.
func TestResolveAdvertise(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	resolved := func(ctx context.Context) (string, int, error) { return "127.0.0.1", 17946, nil }
	n := startNode(t, "n1", "site-01", RoleFollower, func(c *Config) {
		c.StateFile = state
		c.ResolveAdvertise = resolved
	})
	if n.Addr() != "127.0.0.1:17946" {
		t.Errorf("advertised %s, want the resolved 127.0.0.1:17946", n.Addr())
	}
	if b, err := os.ReadFile(state + ".advertise"); err != nil || strings.TrimSpace(string(b)) != "127.0.0.1:17946" {
		t.Errorf("remembered %q, %v", b, err)
	}
	_ = n.Shutdown()

	failing := func(ctx context.Context) (string, int, error) { return "", 0, errors.New("apiserver unreachable") }
	n2 := startNode(t, "n2", "site-01", RoleFollower, func(c *Config) {
		c.StateFile = state
		c.ResolveAdvertise = failing
	})
	if n2.Addr() != "127.0.0.1:17946" {
		t.Errorf("advertised %s after a failed resolve, want the remembered 127.0.0.1:17946", n2.Addr())
	}
	_ = n2.Shutdown()

	cfg := testConfig("n3", "site-01", RoleFollower)
	cfg.ResolveAdvertise = failing
	n3, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n3.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "apiserver unreachable") {
		t.Errorf("Start without a remembered address: %v, want the resolver's error", err)
	}
}
