package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// The delegation of gslb.example.com. in a real parent: Knot DNS serving
// example.com., taking RFC 2136 updates signed with TSIG. A leader at site
// a and a follower at site b, joined over gossip; ns1 has no site (always
// delegated), ns2 runs at site b.
const (
	delegZone   = "gslb.example.com."
	delegParent = "example.com."
	delegNS1    = "ns1.gslb.example.com."
	delegNS2    = "ns2.gslb.example.com."
	delegGlue1  = "127.38.1.1"
	delegGlue2  = "127.38.1.2"
	delegKey    = "gslb-update."
)

// knot is a knotd serving the parent zone.
type knot struct {
	*proctest.Proc
	addr string
}

// startKnot runs knotd as this user, everything in dir, with example.com.
// delegating gslb.example.com. to ns1 alone. knotd cannot listen on port
// 0 and report it: a free port is chosen, again if taken meanwhile.
func startKnot(t *testing.T, dir, secret string) *knot {
	t.Helper()
	bin := proctest.RequireTool(t, "knotd", "knot")
	const ip = "127.38.0.53"
	zones, db := filepath.Join(dir, "zones"), filepath.Join(dir, "db")
	must(t, os.MkdirAll(zones, 0o755))
	must(t, os.MkdirAll(db, 0o755)) // the journal: knotd does not create it
	writeFile(t, zones, "example.com.zone", `$ORIGIN example.com.
$TTL 300
@ SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300
@ NS ns.example.com.
ns A 127.38.0.53
gslb NS ns1.gslb.example.com.
ns1.gslb A `+delegGlue1+"\n")
	var k *knot
	startOnFreePort(t, "knotd", ip, func(port int) (*proctest.Proc, error) {
		k = &knot{addr: hostPort(ip, port)}
		run := filepath.Join(dir, fmt.Sprintf("run%d", port)) // a fresh rundir per attempt
		must(t, os.MkdirAll(run, 0o755))
		conf := writeFile(t, dir, "knot.conf", fmt.Sprintf(`server:
    rundir: "%s"
    listen: %s@%d
log:
  - target: stdout
    any: info
database:
    storage: "%s"
key:
  - id: %s
    algorithm: hmac-sha256
    secret: %s
acl:
  - id: update
    key: %s
    action: update
  - id: transfer
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "%s"
    zonefile-sync: -1
zone:
  - domain: example.com
    acl: [update, transfer]
`, run, ip, port, db, delegKey, secret, delegKey, zones))
		k.Proc = proctest.Start(t, "knotd", exec.Command(bin, "-c", conf))
		return k.Proc, k.waitAnswer(30 * time.Second)
	})
	return k
}

func (k *knot) waitAnswer(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if k.Exited() {
			return fmt.Errorf("knotd exited at start (%v):\n%s", k.Err(), k.Out.String())
		}
		if r, err := tryExchange(k.addr, dnsQuery{name: delegParent, qtype: dns.TypeSOA}); err == nil && r.Rcode == dns.RcodeSuccess {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("knotd on %s did not answer in %v:\n%s", k.addr, timeout, k.Out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// records is the parent's data at and below the cut, by AXFR: the NS
// RRset and every A record (glue) under gslb.example.com., sorted, one
// "name type rdata" each. AXFR sees glue that referrals leave out.
func (k *knot) records(t *testing.T) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetAxfr(delegParent)
	tr := &dns.Transfer{}
	ch, err := tr.In(m, k.addr)
	if err != nil {
		t.Fatalf("AXFR %s at %s: %v", delegParent, k.addr, err)
	}
	var out []string
	for env := range ch {
		if env.Error != nil {
			t.Fatalf("AXFR %s at %s: %v", delegParent, k.addr, env.Error)
		}
		for _, rr := range env.RR {
			name := strings.ToLower(rr.Header().Name)
			if !dns.IsSubDomain(delegZone, name) {
				continue
			}
			switch v := rr.(type) {
			case *dns.NS:
				out = append(out, name+" NS "+strings.ToLower(v.Ns))
			case *dns.A:
				out = append(out, name+" A "+v.A.String())
			case *dns.AAAA:
				out = append(out, name+" AAAA "+v.AAAA.String())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// waitRecords waits until the parent holds exactly want (sorted).
func (k *knot) waitRecords(t *testing.T, what string, want ...string) {
	t.Helper()
	slices.Sort(want)
	var got []string
	deadline := time.Now().Add(hangGuard)
	for {
		if got = k.records(t); slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the parent holds %q after %v, want %q\nknotd:\n%s", what, got, hangGuard, want, k.Out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// update sends a signed update to the parent, as another editor would.
func (k *knot) update(t *testing.T, secret string, del, add []dns.RR) {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(delegParent)
	m.Remove(del)
	m.Insert(add)
	m.SetTsig(delegKey, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second, TsigSecret: map[string]string{delegKey: secret}}
	r, _, err := c.Exchange(m, k.addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("update at %s: %v %s", k.addr, err, describe(r))
	}
}

func glueA(name, ip string) dns.RR {
	rr, err := dns.NewRR(name + " 300 IN A " + ip)
	if err != nil {
		panic(err)
	}
	return rr
}

func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// delegationCheck runs `meridian delegation check` and returns its output
// and exit code.
func delegationCheck(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := run(t, 30*time.Second, meridianBin, append([]string{"delegation", "check"}, args...)...)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("meridian delegation check: %v\n%s", err, out)
	}
	return out, exitCode(err)
}

func TestDelegationFollowsTheSites(t *testing.T) {
	t.Parallel()
	watchdog(t, 4*time.Minute)
	dir := t.TempDir()
	secret := newSecret(t)
	parent := startKnot(t, filepath.Join(dir, "knot"), secret)
	parent.waitRecords(t, "the initial delegation", delegZone+" NS "+delegNS1, delegNS1+" A "+delegGlue1)

	// The key file as `tsig-keygen` prints it.
	keyFile := writeFile(t, dir, "tsig.key", fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", strings.TrimSuffix(delegKey, "."), secret))
	gossipKey := genKey(t, dir, "gossip.key")
	nodeIPs := []string{"127.38.0.1", "127.38.0.2"}
	gossipAddr := []string{hostPort(nodeIPs[0], freePortOn(t, nodeIPs[0])), hostPort(nodeIPs[1], freePortOn(t, nodeIPs[1]))}
	gossip := func(role, site string, i int) string {
		return fmt.Sprintf("gossip: {role: %s, site: %s, node_name: node-%s, listen: %s, key_file: %s, state_file: %s, timing: local, push_pull_interval: 1s, join: [%s]}\n",
			role, site, site, gossipAddr[i], gossipKey, filepath.Join(dir, "state-"+site+".json"), gossipAddr[1-i])
	}
	zone := func(keyFile string) string {
		return fmt.Sprintf(`log: {level: debug}
zones:
  - name: %s
    soa: {rname: hostmaster.gslb.example.com., serial: 1}
    nameservers:
      - {name: %s, addresses: [%s]}
      - {name: %s, addresses: [%s], site: b}
    delegation:
      server: %s
      tsig: {name: %s, secret_file: %s}
      grace: 2s
      interval: 1s
sites:
  - {name: a, location: {lat: 39.04, lon: -77.49, country: US, continent: NA}}
  - {name: b, location: {lat: 53.35, lon: -6.26, country: IE, continent: EU}}
services:
  - name: app.gslb.example.com.
    policy: {strategy: roundrobin, ttl: 30}
    members: [{site: a, addresses: [192.0.2.1]}, {site: b, addresses: [192.0.2.2]}]
`, delegZone, delegNS1, delegGlue1, delegNS2, delegGlue2, parent.addr, delegKey, keyFile)
	}
	leaderDir, followerDir := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	must(t, os.MkdirAll(leaderDir, 0o755))
	must(t, os.MkdirAll(followerDir, 0o755))
	leaderCfg := writeFile(t, leaderDir, "meridian.yaml", zone(keyFile)+gossip("leader", "a", 0))
	followerCfg := writeFile(t, followerDir, "meridian.yaml", "log: {level: debug}\n"+gossip("follower", "b", 1))

	leader := startMeridian(t, leaderCfg, []string{hostPort(nodeIPs[0], 0)}, hostPort(nodeIPs[0], 0))
	// Site b was never live: its name server is not added (held for
	// the grace, then not wanted), while ns1 stays.
	proctest.Stays(t, 3*time.Second, "the parent without ns2 while site b is down", func() bool {
		return !slices.Contains(parent.records(t), delegZone+" NS "+delegNS2)
	})

	// Site b joins: ns2 and its glue appear in the parent.
	follower := startMeridian(t, followerCfg, []string{hostPort(nodeIPs[1], 0)}, hostPort(nodeIPs[1], 0))
	parent.waitRecords(t, "site b joined",
		delegZone+" NS "+delegNS1, delegZone+" NS "+delegNS2, delegNS1+" A "+delegGlue1, delegNS2+" A "+delegGlue2)
	// The referral a resolver gets says the same.
	r := exchange(t, parent.addr, dnsQuery{name: delegZone, qtype: dns.TypeNS})
	if len(r.Ns) != 2 || !slices.ContainsFunc(r.Extra, func(rr dns.RR) bool {
		a, ok := rr.(*dns.A)
		return ok && a.Hdr.Name == delegNS2 && a.A.String() == delegGlue2
	}) {
		t.Errorf("referral: %s", describe(r))
	}
	// And dig, asking the parent as a resolver would.
	dig := proctest.RequireTool(t, "dig", "bind9-dnsutils")
	host, port, _ := net.SplitHostPort(parent.addr)
	out, err := run(t, 15*time.Second, dig, "@"+host, "-p", port, "+norec", delegZone, "NS")
	if err != nil || !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(delegZone)+`\s+\d+\s+IN\s+NS\s+`+regexp.QuoteMeta(delegNS2)+`$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(delegNS2)+`\s+\d+\s+IN\s+A\s+`+regexp.QuoteMeta(delegGlue2)+`$`).MatchString(out) {
		t.Errorf("dig at the parent after site b joined (err %v) lacks ns2's NS or glue:\n%s", err, out)
	}
	if out, code := delegationCheck(t, "--config", leaderCfg); code != 0 || !strings.Contains(out, "in sync") {
		t.Errorf("delegation check with both sites up: exit %d\n%s", code, out)
	}
	if _, err := leader.WaitLine(hangGuard, "delegation change", "missing NS "+delegNS2); err != nil {
		t.Errorf("the leader did not log the change: %v", err)
	}

	// Site b dies: its name server and glue go once the grace passed.
	_ = follower.Kill() // its error is the SIGKILL's exit status
	if !follower.Exited() {
		t.Fatal("the follower survived SIGKILL")
	}
	parent.waitRecords(t, "site b left and its grace passed", delegZone+" NS "+delegNS1, delegNS1+" A "+delegGlue1)
	if out, err := run(t, 15*time.Second, dig, "@"+host, "-p", port, "+norec", delegZone, "NS"); err != nil ||
		strings.Contains(out, delegNS2) || !strings.Contains(out, delegNS1) {
		t.Errorf("dig at the parent after site b left (err %v): want ns1 alone:\n%s", err, out)
	}
	if _, err := leader.WaitLine(hangGuard, "delegation change", "extra NS "+delegNS2); err != nil {
		t.Errorf("the leader did not log the removal: %v", err)
	}
	if v := metric(t, leader, `meridian_delegation_in_sync{zone="gslb.example.com."}`); v != 1 {
		t.Errorf("in_sync = %v, want 1", v)
	}
	if v := metric(t, leader, `meridian_delegation_updates_total{result="success",zone="gslb.example.com."}`); v < 2 {
		t.Errorf("%v successful updates, want at least 2", v)
	}
	// The check asks the leader which sites are live: in sync; without
	// it every configured name server is expected: ns2 is missing.
	if out, code := delegationCheck(t, "--config", leaderCfg, "--api", leader.HTTP); code != 0 {
		t.Errorf("delegation check --api with site b down: exit %d, want 0\n%s", code, out)
	}
	if out, code := delegationCheck(t, "--config", leaderCfg); code != 1 || !strings.Contains(out, "missing NS "+delegNS2) {
		t.Errorf("delegation check without --api: exit %d, want 1 and missing NS %s\n%s", code, delegNS2, out)
	}

	// Someone else breaks ns1's glue: the leader puts it back.
	parent.update(t, secret, []dns.RR{glueA(delegNS1, delegGlue1)}, []dns.RR{glueA(delegNS1, "127.38.1.99")})
	parent.waitRecords(t, "the broken glue repaired", delegZone+" NS "+delegNS1, delegNS1+" A "+delegGlue1)

	// With the leader stopped, a broken glue stays broken, and the check
	// names it.
	if code, out := terminate(t, leader); code != 0 {
		t.Fatalf("leader exit %d:\n%s", code, out)
	}
	parent.update(t, secret, []dns.RR{glueA(delegNS1, delegGlue1)}, []dns.RR{glueA(delegNS1, "127.38.1.99")})
	out, code := delegationCheck(t, "--config", leaderCfg, "--zone", "GSLB.example.com")
	if code != 1 || !strings.Contains(out, "wrong glue "+delegNS1+" A: parent has 127.38.1.99, want "+delegGlue1) ||
		!strings.Contains(out, "missing NS "+delegNS2) {
		t.Errorf("delegation check of the broken glue: exit %d, want 1 naming the glue\n%s", code, out)
	}
	// An unreachable parent is an error, not a difference.
	rewriteConfig(t, leaderCfg, "server: "+parent.addr, "server: 127.38.0.54:9")
	if out, code := delegationCheck(t, "--config", leaderCfg, "--timeout", "3s"); code != 2 {
		t.Errorf("delegation check of an unreachable parent: exit %d, want 2\n%s", code, out)
	}
	rewriteConfig(t, leaderCfg, "server: 127.38.0.54:9", "server: "+parent.addr)

	// A wrong secret: the update is refused, and the log says why.
	wrongKey := writeFile(t, dir, "wrong.key", newSecret(t)+"\n")
	standalone := writeFile(t, dir, "standalone.yaml", zone(wrongKey))
	m := startMeridian(t, standalone, []string{"127.38.0.3:0"}, "127.38.0.3:0")
	line, err := m.WaitLine(hangGuard, "delegation not updated", "rejected the TSIG key", "BADSIG")
	if err != nil {
		t.Fatalf("no clear error for a wrong secret: %v\n%s", err, m.Out.String())
	}
	if strings.Contains(m.Out.String(), secret) || strings.Contains(m.Out.String(), strings.TrimSpace(proctest.ReadFile(t, wrongKey))) {
		t.Error("a secret is in the log")
	}
	t.Logf("wrong secret: %s", line)
	if !slices.Contains(parent.records(t), delegNS1+" A 127.38.1.99") {
		t.Errorf("the parent changed with a wrong key: %q", parent.records(t))
	}
	if v := metric(t, m, `meridian_delegation_in_sync{zone="gslb.example.com."}`); v != 0 {
		t.Errorf("in_sync = %v with a wrong key, want 0", v)
	}

	// A key name the parent does not know (the config reloads).
	rewriteConfig(t, standalone, "name: "+delegKey, "name: no-such-key.")
	if _, err := m.WaitLine(hangGuard, "delegation not updated", "no-such-key.", "NOTAUTH BADKEY"); err != nil {
		t.Fatalf("no clear error for an unknown key: %v\n%s", err, m.Out.String())
	}
	// The right name and secret, the secret by rewriting its file alone
	// (rotation): the next pass repairs the glue and, standalone, every
	// site is live: ns2 is back.
	rewriteConfig(t, standalone, "name: no-such-key.", "name: "+delegKey)
	proctest.ReplaceFile(t, wrongKey, secret+"\n")
	parent.waitRecords(t, "the right key, reread",
		delegZone+" NS "+delegNS1, delegZone+" NS "+delegNS2, delegNS1+" A "+delegGlue1, delegNS2+" A "+delegGlue2)
	if strings.Contains(m.Out.String(), secret) || strings.Contains(leader.Out.String(), secret) {
		t.Error("the secret is in a log")
	}
}
