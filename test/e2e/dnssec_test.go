package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// The acceptance of DNSSEC online signing, with real validators: keys from
// `meridian dnssec keygen`, trust anchors from `meridian dnssec ds`, a
// signed leader and a follower fed over gossip, each behind its own
// validating unbound; delv, dnsviz and zonemaster-cli on the same answers;
// and key rollovers with unbound's caches in place (TestDNSSECRollover).

// Loopback addresses of TestDNSSECValidation: the leader (site us-east,
// ns1), the follower (eu-west, ns2) and the parent zone for dnsviz.
var dnssecIPs = []string{"127.54.0.1", "127.54.0.2", "127.54.0.3"}

func TestDNSSECValidation(t *testing.T) {
	t.Parallel()
	watchdog(t, 3*time.Minute)
	dir := t.TempDir()

	// Keys made by the real commands: a KSK and a ZSK, one copy per site.
	gen := filepath.Join(dir, "keygen")
	ksk, zsk := dnssecKeygen(t, gen, "ksk"), dnssecKeygen(t, gen, "zsk")
	leaderKeys, followerKeys := filepath.Join(dir, "keys-us-east"), filepath.Join(dir, "keys-eu-west")
	copyKeys(t, gen, leaderKeys, ksk, zsk)
	copyKeys(t, gen, followerKeys, ksk, zsk)
	// A key the zone does not have: a wrong trust anchor.
	stranger := dnssecKeygen(t, filepath.Join(dir, "stranger"), "ksk")
	wrongDS := dnssecDS(t, filepath.Join(dir, "stranger", stranger+".key"))

	port, _ := proctest.StartDemoBackends(t, meridianBin, proctest.MeridianEnv(), demoBackendIPs, []string{"us-east", "eu-west", "ap-south"})
	gkey := genKey(t, dir, "gossip.key")
	ga := []string{hostPort(dnssecIPs[0], freePortOn(t, dnssecIPs[0])), hostPort(dnssecIPs[1], freePortOn(t, dnssecIPs[1]))}
	leaderCfg := writeFile(t, filepath.Join(dir, "us-east"), "meridian.yaml", signedDemo(t, leaderKeys, []string{ksk, zsk}, dnssecIPs[:2], port, map[string]any{
		"gossip": gossipSection("leader", "us-east", ga[0], gkey, filepath.Join(dir, "state-us-east.json"), ga[1]),
	}))
	followerCfg := writeFile(t, filepath.Join(dir, "eu-west"), "meridian.yaml", fmt.Sprintf(`# a follower: local settings only, its own copy of the keys
dns: {dnssec_key_directory: %s}
geo: {database: %s}
health: {rule: majority}
gossip: %s
`, followerKeys, filepath.Join(filepath.Dir(demoConfig()), "demo.mmdb"),
		flowYAML(t, gossipSection("follower", "eu-west", ga[1], gkey, filepath.Join(dir, "state-eu-west.json"), ga[0]))))

	// The trust anchor, as an operator gets it: from the leader's config.
	ds := dnssecDS(t, "--config", leaderCfg)
	if len(ds) != 1 || ds[0].KeyTag != keyTag(t, ksk) {
		t.Fatalf("meridian dnssec ds --config: want one DS, of the KSK %s, got %v", ksk, ds)
	}
	t.Logf("trust anchor: %s", ds[0])

	leader := startMeridian(t, leaderCfg, []string{hostPort(dnssecIPs[0], 0)}, hostPort(dnssecIPs[0], 0))
	follower := startMeridian(t, followerCfg, []string{hostPort(dnssecIPs[1], 0)}, hostPort(dnssecIPs[1], 0))
	waitCompiled(t, leader)
	waitVersion(t, follower, stateVersion(t, leader))
	waitCompiled(t, follower)
	sites := []*meridian{leader, follower}
	siteName := map[*meridian]string{leader: "leader", follower: "follower"}

	// Both sites publish the same DNSKEY RRset, the one the config names.
	wantTags := []uint16{keyTag(t, ksk), keyTag(t, zsk)}
	slices.Sort(wantTags)
	var sets []string
	for _, m := range sites {
		sets = append(sets, waitServes(t, m, siteName[m]+" keys", "app."+dnssecZone, dns.TypeA, wantTags, []uint16{keyTag(t, zsk)}))
	}
	if sets[0] != sets[1] {
		t.Errorf("the leader and the follower publish different DNSKEY RRsets:\nleader:\n%s\nfollower:\n%s", sets[0], sets[1])
	}
	// NXNAME (RFC 9824) is a meta type, only for the NSEC bitmap: asked
	// for, it is a format error.
	for _, m := range sites {
		if r := mustDO(t, m.DNS[0], "nope."+dnssecZone, dns.TypeNXNAME, "", false); r.Rcode != dns.RcodeFormatError {
			t.Errorf("the %s answers a query for type NXNAME with %s, want FORMERR", siteName[m], describe(r))
		}
	}

	t.Run("unbound", func(t *testing.T) {
		// One validating unbound per site, the trust anchor from
		// `meridian dnssec ds`: secure (AD) geo answers from both.
		for _, m := range sites {
			u := startValidator(t, m.DNS, ds)
			for _, c := range []struct {
				name   string
				qtype  uint16
				ecs    string
				want   []string // the addresses; nil: not checked
				answer uint16   // the type of the first answer record; 0: a negative answer
			}{
				{"app", dns.TypeA, "81.2.69.0/24", []string{appEU}, dns.TypeA},
				{"app", dns.TypeA, "8.8.8.0/24", []string{appUS}, dns.TypeA},
				{"app", dns.TypeA, "202.12.27.0/24", []string{appAP}, dns.TypeA},
				{"app", dns.TypeAAAA, "2001:67c:2e8::/48", []string{appEU6}, dns.TypeAAAA},
				{"docs", dns.TypeA, "81.2.69.0/24", []string{appEU}, dns.TypeCNAME}, // static CNAME to app
				{"@", dns.TypeTXT, "", nil, dns.TypeTXT},
				{"@", dns.TypeMX, "", nil, dns.TypeMX},
				{"_sip._udp", dns.TypeSRV, "", nil, dns.TypeSRV},
				{"@", dns.TypeDNSKEY, "", nil, dns.TypeDNSKEY},
				{"app", dns.TypeMX, "", nil, 0}, // NODATA
				{"nope", dns.TypeA, "", nil, 0}, // no such name
				{"@", dns.TypeAAAA, "", nil, 0}, // NODATA at the apex
				{"x.y.nope", dns.TypeTXT, "", nil, 0},
			} {
				name := dnssecZone
				if c.name != "@" {
					name = c.name + "." + dnssecZone
				}
				r := mustDO(t, u.addr, name, c.qtype, c.ecs, true)
				what := fmt.Sprintf("unbound before the %s: %s %s ecs=%q", siteName[m], name, dns.TypeToString[c.qtype], c.ecs)
				ok := r.AuthenticatedData && (r.Rcode == dns.RcodeSuccess || c.answer == 0 && r.Rcode == dns.RcodeNameError)
				if c.answer == 0 {
					ok = ok && len(r.Answer) == 0
				} else {
					ok = ok && len(r.Answer) > 0 && r.Answer[0].Header().Rrtype == c.answer
				}
				if c.want != nil {
					got := addrs(r)
					ok = ok && slices.Equal(got, c.want)
				}
				if !ok {
					t.Errorf("%s: want a validated (AD) answer %v %s, got ad=%v %s", what, c.want, dns.TypeToString[c.answer], r.AuthenticatedData, describe(r))
					continue
				}
				t.Logf("%s: AD %s", what, strings.Join(addrs(r), " "))
			}
			if t.Failed() {
				t.Logf("unbound output:\n%s", u.Out.String())
			}
		}

		// Validation is really on: a resolver with a trust anchor the
		// zone does not match fails every answer (SERVFAIL), at either site.
		for _, m := range sites {
			bad := startValidator(t, m.DNS, wrongDS)
			r := mustDO(t, bad.addr, "app."+dnssecZone, dns.TypeA, "81.2.69.0/24", true)
			if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
				t.Errorf("unbound with a wrong trust anchor before the %s: want SERVFAIL, got ad=%v %s", siteName[m], r.AuthenticatedData, describe(r))
			}
		}
	})

	t.Run("delv", func(t *testing.T) {
		delv := proctest.RequireTool(t, "delv", "bind9-dnsutils")
		anchors := delvAnchors(t, t.TempDir(), "anchors.conf", ds)
		wrong := delvAnchors(t, t.TempDir(), "wrong.conf", wrongDS)
		const positive, negative = "; fully validated", "; negative response, fully validated"
		cases := []struct {
			name, qtype string
			want        []string // in the output
		}{
			{"app", "A", []string{positive, "\tA\t"}},
			{"app", "AAAA", []string{positive, "\tAAAA\t2001:db8:"}},
			{"docs", "A", []string{positive, "\tCNAME\tapp.gslb.example.", "\tA\t"}},
			// a hostname member: the signed CNAME validates (its target,
			// outside every zone here, does not resolve)
			{"edge", "A", []string{positive, "\tCNAME\tedge-lb.us-east.example.net.", "\tRRSIG\tCNAME 13 3 "}},
			{"@", "TXT", []string{positive, `"Meridian GSLB demo zone"`}},
			{"@", "MX", []string{positive, "\tMX\t10 mail.gslb.example."}},
			{"_sip._udp", "SRV", []string{positive, "\tSRV\t10 60 5060 sip.gslb.example."}},
			{"@", "CAA", []string{positive, "\tCAA\t"}},
			{"mail", "A", []string{positive, "\tA\t192.0.2.25"}},
			{"@", "DNSKEY", []string{positive, "\tDNSKEY\t257 3 13 ", "\tDNSKEY\t256 3 13 "}},
			{"app", "MX", []string{negative}},        // NODATA at a service
			{"@", "A", []string{negative}},           // NODATA at the apex
			{"nope", "A", []string{negative}},        // no such name
			{"a.b.nope", "AAAA", []string{negative}}, // no such name, deeper
			{"mail", "AAAA", []string{negative}},     // NODATA at a static name
		}
		for _, m := range sites {
			host, p, _ := strings.Cut(m.DNS[0], ":")
			for _, c := range cases {
				name := dnssecZone
				if c.name != "@" {
					name = c.name + "." + dnssecZone
				}
				args := []string{"@" + host, "-p", p, "-a", anchors, "+root=" + strings.TrimSuffix(dnssecZone, "."), name, c.qtype}
				out, err := run(t, 20*time.Second, delv, args...)
				missing := ""
				for _, w := range c.want {
					if !strings.Contains(out, w) {
						missing = w
						break
					}
				}
				if err != nil || missing != "" {
					t.Errorf("delv %s (%s): want %q in the output (err %v):\n%s", strings.Join(args, " "), siteName[m], missing, err, out)
					continue
				}
				t.Logf("delv %s %s at the %s: %s", name, c.qtype, siteName[m], c.want[0])
			}
			// and with a wrong anchor, nothing validates
			out, _ := run(t, 20*time.Second, delv, "@"+host, "-p", p, "-a", wrong, "+root="+strings.TrimSuffix(dnssecZone, "."), "app."+dnssecZone, "A")
			if strings.Contains(out, "fully validated") || !strings.Contains(out, "resolution failed") {
				t.Errorf("delv with a wrong trust anchor at the %s: want a failed resolution:\n%s", siteName[m], out)
			}
		}
	})

	t.Run("dnsviz", func(t *testing.T) {
		// The zone as dnsviz sees it from its parent: a root zone served
		// by a third Meridian delegates to both sites and carries the DS.
		rootCfg := writeFile(t, t.TempDir(), "root.yaml", rootZone(dnssecIPs[2], dnssecIPs[:2], ds))
		root := startMeridian(t, rootCfg, []string{hostPort(dnssecIPs[2], 0)}, hostPort(dnssecIPs[2], 0))
		names := []string{dnssecZone, "app." + dnssecZone, "docs." + dnssecZone, "mail." + dnssecZone, "_sip._udp." + dnssecZone, "nope." + dnssecZone}
		grok := runDNSViz(t, filepath.Join(gen, ksk+".key"), root.DNS[0], []string{leader.DNS[0], follower.DNS[0]}, names)
		for _, n := range names {
			if _, ok := grok[n]; !ok {
				t.Errorf("dnsviz grok says nothing about %s", n)
			}
		}
		z, _ := grok[dnssecZone].(map[string]any)
		if st := jsonPath(z, "zone", "status"); st != "SECURE" {
			t.Errorf("dnsviz: zone %s status %v, want SECURE", dnssecZone, st)
		}
		if st := jsonPath(z, "delegation", "status"); st != "SECURE" {
			t.Errorf("dnsviz: the delegation of %s (its DS in the parent) has status %v, want SECURE", dnssecZone, st)
		}
	})
}

// runDNSViz probes the zone's names with dnsviz (authoritative analysis:
// the root at rootAddr, the zone at servers, ns1, ns2...), groks the result
// with the KSK's DNSKEY (keyFile) as trust anchor, and fails on every
// error dnsviz reports and every status that is not secure. It returns
// grok's JSON, by name.
func runDNSViz(t *testing.T, keyFile, rootAddr string, servers, names []string) map[string]any {
	t.Helper()
	dnsviz := proctest.RequireTool(t, "dnsviz", "dnsviz")
	dir := t.TempDir()
	var ns []string
	for i, s := range servers {
		ns = append(ns, fmt.Sprintf("ns%d.%s=%s", i+1, dnssecZone, s))
	}
	probeOut := filepath.Join(dir, "probe.json")
	args := []string{"probe", "-A", "-4", "-o", probeOut,
		"-x", ".:a.root-servers.test=" + rootAddr, // the parent: our root
		"-x", dnssecZone + ":" + strings.Join(ns, ","),
	}
	args = append(args, names...)
	start := time.Now()
	out, err := run(t, 90*time.Second, dnsviz, args...)
	if err != nil {
		t.Fatalf("dnsviz %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("dnsviz probe: %v", time.Since(start).Round(10*time.Millisecond))

	// grok -t needs pygraphviz's version, from the module pygraphviz.release
	// that pygraphviz 1.7 (Debian 12) no longer has (dnsviz issue #98,
	// fixed in pygraphviz 1.10): provide it, only when it is missing.
	shim := filepath.Join(dir, "shim")
	writeFile(t, shim, "sitecustomize.py", `import importlib.abc, importlib.util, sys
class _Release(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "pygraphviz.release":
            return importlib.util.spec_from_loader(name, self)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        module.version = sys.modules["pygraphviz"].__version__
sys.meta_path.append(_Release())
`)
	anchor := writeFile(t, dir, "anchor.key", proctest.ReadFile(t, keyFile)+"\n")
	grokOut := filepath.Join(dir, "grok.json")
	gargs := []string{"grok", "-t", anchor, "-r", probeOut, "-o", grokOut}
	cmd := exec.Command(dnsviz, gargs...)
	cmd.Env = append(proctest.MeridianEnv(), "PYTHONPATH="+shim)
	if out, err := proctest.Run(60*time.Second, cmd); err != nil {
		t.Fatalf("dnsviz %s: %v\n%s", strings.Join(gargs, " "), err, out)
	}
	raw := proctest.ReadFile(t, grokOut)
	var res map[string]any
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatalf("dnsviz grok output: %v\n%s", err, raw)
	}
	// Every "errors" and "warnings" list anywhere, and every status.
	var errs, warns []string
	statuses := map[string]int{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := path + "/" + k
				if id, ok := v["id"].(string); ok {
					p = path + "[" + id + "]/" + k
				}
				switch k {
				case "errors":
					b, _ := json.Marshal(v[k])
					errs = append(errs, p+": "+string(b))
				case "warnings":
					b, _ := json.Marshal(v[k])
					warns = append(warns, p+": "+string(b))
				case "status":
					if s, ok := v[k].(string); ok {
						statuses[s]++
						switch {
						case s == "SECURE" || s == "VALID" || s == "NOERROR" || s == "NXDOMAIN":
						case s == "INSECURE" && strings.Contains(p, "/IN/DS/answer["):
							// the DS RRset itself: its zone, our root, is unsigned
						default:
							errs = append(errs, p+": "+s)
						}
					}
				}
				walk(p, v[k])
			}
		case []any:
			for _, e := range v {
				walk(path, e)
			}
		}
	}
	walk("", res)
	t.Logf("dnsviz grok: statuses %v", statuses)
	for _, w := range warns {
		t.Logf("dnsviz warning: %s", w)
	}
	if len(errs) > 0 || statuses["SECURE"] == 0 {
		shown := errs[:min(len(errs), 40)]
		t.Errorf("dnsviz grok: %d errors or statuses that are not secure (statuses %v); the first %d:\n%s\ngrok's whole output: %s",
			len(errs), statuses, len(shown), strings.Join(shown, "\n"), keepFile(t, grokOut))
	}
	return res
}

// jsonPath follows keys through nested JSON objects; nil when absent.
func jsonPath(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// zonemaster-cli needs port 53: these addresses are TestZonemaster's
// pattern, apart from its own so that both run at once.
//
//	127.53.1.2  the root, with the delegation and the DS of the KSK
//	127.53.1.4  a root whose DS is another key's (the check must fail)
//	127.53.1.1  ns1.gslb.example. \ one signed Meridian
//	127.53.1.3  ns2.gslb.example. /
var zmSigned = struct{ root, wrongRoot, ns1, ns2 string }{"127.53.1.2", "127.53.1.4", "127.53.1.1", "127.53.1.3"}

// TestDNSSECZonemaster runs zonemaster-cli on the signed zone delegated
// from a root with its DS: no ERROR or CRITICAL in any module, and the
// DNSSEC module really saw the signed zone (DS and DNSKEY matched, NSEC,
// algorithms, signature lifetimes). With a wrong DS in the parent the
// DNSSEC module reports an ERROR: the check is not blind.
func TestDNSSECZonemaster(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	zm := proctest.RequireTool(t, "zonemaster-cli", "zonemaster-cli")
	for _, a := range []string{zmSigned.root, zmSigned.wrongRoot, zmSigned.ns1, zmSigned.ns2} {
		requirePort53(t, a)
	}
	dir := t.TempDir()
	gen := filepath.Join(dir, "keys")
	ksk, zsk := dnssecKeygen(t, gen, "ksk"), dnssecKeygen(t, gen, "zsk")
	stranger := dnssecKeygen(t, filepath.Join(dir, "stranger"), "ksk")
	childCfg := writeFile(t, dir, "gslb.yaml", signedDemo(t, gen, []string{ksk, zsk}, []string{zmSigned.ns1, zmSigned.ns2}, 0, nil))
	ds := dnssecDS(t, "--config", childCfg)
	wrongDS := dnssecDS(t, filepath.Join(dir, "stranger", stranger+".key"))
	nss := []string{zmSigned.ns1, zmSigned.ns2}
	rootCfg := writeFile(t, dir, "root.yaml", rootZone(zmSigned.root, nss, ds))
	wrongCfg := writeFile(t, dir, "wrong-root.yaml", rootZone(zmSigned.wrongRoot, nss, wrongDS))
	hints := writeFile(t, dir, "root.hints", ".                    3600000 IN NS a.root-servers.test.\na.root-servers.test. 3600000 IN A  "+zmSigned.root+"\n")
	wrongHints := writeFile(t, dir, "wrong.hints", ".                    3600000 IN NS a.root-servers.test.\na.root-servers.test. 3600000 IN A  "+zmSigned.wrongRoot+"\n")

	startMeridian(t, rootCfg, []string{zmSigned.root + ":53"}, "127.0.0.1:0")
	startMeridian(t, wrongCfg, []string{zmSigned.wrongRoot + ":53"}, "127.0.0.1:0")
	startMeridian(t, childCfg, []string{zmSigned.ns1 + ":53", zmSigned.ns2 + ":53"}, "127.0.0.1:0")

	t.Run("all modules", func(t *testing.T) {
		runZonemaster(t, zm, "--hints", hints)
	})
	t.Run("DNSSEC module", func(t *testing.T) {
		msgs, _ := zonemasterMessages(t, zm, "--hints", hints, "--level", "DEBUG", "--test", "DNSSEC")
		tags := map[string]int{}
		for _, m := range msgs {
			if m.Module == "DNSSEC" {
				tags[m.Tag]++
			}
			if (m.Level == "ERROR" || m.Level == "CRITICAL") && zonemasterExpected[m.Tag] == "" {
				t.Errorf("zonemaster: %s args=%v", m, m.Args)
			}
		}
		// DNSKEY_AND_DS: the parent's DS and the child's DNSKEY were
		// both found; DS10_HAS_NSEC: the zone's denial is NSEC;
		// DURATION_OK: the signatures' lifetimes; EXTRA_PROCESSING_OK:
		// DNSKEY answered with its RRSIG by both servers.
		for _, tag := range []string{"DNSKEY_AND_DS", "ALGORITHM_OK", "DURATION_OK", "DS10_HAS_NSEC", "EXTRA_PROCESSING_OK", "DS15_HAS_CDS_AND_CDNSKEY"} {
			if tags[tag] == 0 {
				t.Errorf("zonemaster's DNSSEC module did not report %s (it reported %v)", tag, tags)
			}
		}
		if t.Failed() {
			for _, m := range msgs {
				t.Logf("  %s", m)
			}
		}
	})
	t.Run("wrong DS in the parent", func(t *testing.T) {
		msgs, _ := zonemasterMessages(t, zm, "--hints", wrongHints, "--level", "INFO", "--test", "DNSSEC")
		found := false
		for _, m := range msgs {
			if m.Level == "ERROR" && m.Tag == "DS02_NO_VALID_DNSKEY_FOR_ANY_DS" {
				found = true
				t.Logf("as expected: %s", m)
			}
		}
		if !found {
			var all strings.Builder
			for _, m := range msgs {
				fmt.Fprintf(&all, "  %s\n", m)
			}
			t.Errorf("a DS of another key in the parent: zonemaster's DNSSEC module reports no ERROR DS02_NO_VALID_DNSKEY_FOR_ANY_DS:\n%s", all.String())
		}
	})
}

// ---- rollovers ----

// rollKey is one key of a step of TestDNSSECRollover: its name and state.
type rollKey struct {
	name    string
	publish bool // state published (in the DNSKEY RRset, not signing)
}

// rollDNSKEYTTL is the DNSKEY TTL of TestDNSSECRollover's zone, whose
// other records live 1 s in caches. The DNSKEY RRset outlives the
// signatures in a cache, as in real zones: a step taken too early meets a
// cached DNSKEY RRset that lacks the key of fresh signatures, and fails.
const rollDNSKEYTTL = 4

// rolloverConfig is TestDNSSECRollover's leader config with the zone's
// keys in their states.
func rolloverConfig(keyDir, nsAddr string, keys []rollKey, gossip string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `log: {level: debug}
dns: {dnssec_key_directory: %s}
zones:
  - name: %s
    soa: {mname: ns1.%[2]s, rname: hostmaster.%[2]s, serial: 1, minimum: 1, ttl: 1}
    nameservers: [{name: ns1.%[2]s, addresses: [%[3]s]}]
    ns_ttl: 1
    records:
      - '@ 1 IN TXT "rollover"'
      - 'www 1 IN CNAME app'
    dnssec:
      dnskey_ttl: %[4]d
      keys:
`, keyDir, dnssecZone, nsAddr, rollDNSKEYTTL)
	for _, k := range keys {
		state := "active"
		if k.publish {
			state = "published"
		}
		fmt.Fprintf(&b, "        - {name: %s, state: %s}\n", k.name, state)
	}
	fmt.Fprintf(&b, `sites:
  - {name: a, location: {lat: 39.04, lon: -77.49, country: US, continent: NA}}
  - {name: b, location: {lat: 53.35, lon: -6.26, country: IE, continent: EU}}
services:
  - name: app.%s
    policy: {strategy: roundrobin, ttl: 1}
    members:
      - {site: a, addresses: [192.0.2.1]}
      - {site: b, addresses: [192.0.2.2]}
gossip: %s
`, dnssecZone, gossip)
	return b.String()
}

// validationProbe asks every resolver, again and again until stopped, a
// set of questions with DO=1, and keeps every answer that is not
// validated (AD) and as expected.
type validationProbe struct {
	mu       sync.Mutex
	failures []string
	queries  int
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// probeQuestions: positive answers (a service, a CNAME to it, a static
// record, the DNSKEY RRset) and negative ones (NODATA, no such name).
var probeQuestions = []struct {
	name     string
	qtype    uint16
	negative bool
}{
	{"app." + dnssecZone, dns.TypeA, false},
	{"www." + dnssecZone, dns.TypeA, false},
	{dnssecZone, dns.TypeTXT, false},
	{dnssecZone, dns.TypeDNSKEY, false},
	{"app." + dnssecZone, dns.TypeAAAA, true},
	{"nope." + dnssecZone, dns.TypeA, true},
}

func startValidationProbe(resolvers map[string]*unbound) *validationProbe {
	p := &validationProbe{stop: make(chan struct{}), done: make(chan struct{})}
	names := make([]string, 0, len(resolvers))
	for n := range resolvers {
		names = append(names, n)
	}
	sort.Strings(names)
	go func() {
		defer close(p.done)
		for {
			for _, rn := range names {
				for _, q := range probeQuestions {
					r, err := doQuery(resolvers[rn].addr, q.name, q.qtype, "", true)
					fail := ""
					switch {
					case err != nil:
						fail = err.Error()
					case !r.AuthenticatedData:
						fail = "not validated (AD=0): " + describe(r)
					case r.Rcode != dns.RcodeSuccess && !(q.negative && r.Rcode == dns.RcodeNameError):
						fail = describe(r)
					case q.negative != (len(r.Answer) == 0):
						fail = "unexpected answer: " + describe(r)
					}
					p.mu.Lock()
					p.queries++
					if fail != "" {
						p.failures = append(p.failures, fmt.Sprintf("%s %s via unbound %s: %s", time.Now().Format("15:04:05.000"), dns.TypeToString[q.qtype]+" "+q.name, rn, fail))
					}
					p.mu.Unlock()
				}
			}
			select {
			case <-p.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return p
}

// check fails the test with the failures so far, and logs the count.
func (p *validationProbe) check(t *testing.T, step string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.failures); n > 0 {
		shown := p.failures[:min(n, 20)]
		t.Errorf("%s: %d answers were not validated; the first %d:\n%s", step, n, len(shown), strings.Join(shown, "\n"))
		p.failures = nil
	}
	t.Logf("%s: validation green (%d queries so far)", step, p.queries)
}

// halt stops the questions and waits for the last answers.
func (p *validationProbe) halt() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// TestDNSSECRollover rolls the keys of a signed leader and its follower
// while a validating unbound in front of each site keeps asking (every
// 100 ms, caches never flushed): a ZSK pre-publish rollover, then a KSK
// double-DS rollover. Every answer of every step must validate. Each step
// reaches both sites before the wait of a DNSKEY TTL (and a margin) that
// lets the caches forget the previous DNSKEY RRset.
func TestDNSSECRollover(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dir := t.TempDir()
	gen := filepath.Join(dir, "keygen")
	k1, z1, z2, k2 := dnssecKeygen(t, gen, "ksk"), dnssecKeygen(t, gen, "zsk"), dnssecKeygen(t, gen, "zsk"), dnssecKeygen(t, gen, "ksk")
	tag := func(names ...string) []uint16 {
		var out []uint16
		for _, n := range names {
			out = append(out, keyTag(t, n))
		}
		slices.Sort(out)
		return out
	}
	ds1 := dnssecDS(t, filepath.Join(gen, k1+".key"))
	ds2 := dnssecDS(t, filepath.Join(gen, k2+".key"))

	ips := []string{"127.55.0.1", "127.55.0.2"}
	leaderKeys, followerKeys := filepath.Join(dir, "keys-a"), filepath.Join(dir, "keys-b")
	copyKeys(t, gen, leaderKeys, k1, z1, z2, k2)
	copyKeys(t, gen, followerKeys, k1, z1, z2, k2)
	gkey := genKey(t, dir, "gossip.key")
	ga := []string{hostPort(ips[0], freePortOn(t, ips[0])), hostPort(ips[1], freePortOn(t, ips[1]))}
	leaderGossip := flowYAML(t, gossipSection("leader", "a", ga[0], gkey, filepath.Join(dir, "state-a.json"), ga[1]))
	leaderCfg := filepath.Join(dir, "a", "meridian.yaml")
	step := func(keys ...rollKey) {
		proctest.WriteFile(t, leaderCfg+".new", rolloverConfig(leaderKeys, ips[0], keys, leaderGossip))
		must(t, os.Rename(leaderCfg+".new", leaderCfg))
	}
	step(rollKey{name: k1}, rollKey{name: z1})
	followerCfg := writeFile(t, filepath.Join(dir, "b"), "meridian.yaml", fmt.Sprintf("log: {level: debug}\ndns: {dnssec_key_directory: %s}\ngossip: %s\n",
		followerKeys, flowYAML(t, gossipSection("follower", "b", ga[1], gkey, filepath.Join(dir, "state-b.json"), ga[0]))))
	leader := startMeridian(t, leaderCfg, []string{hostPort(ips[0], 0)}, hostPort(ips[0], 0))
	follower := startMeridian(t, followerCfg, []string{hostPort(ips[1], 0)}, hostPort(ips[1], 0))
	sites := map[string]*meridian{"leader": leader, "follower": follower}
	// reached waits until both sites publish the keys and sign app's A
	// with the signers.
	reached := func(what string, keys, signers []uint16) {
		t.Helper()
		var sets []string
		for _, n := range []string{"leader", "follower"} {
			sets = append(sets, waitServes(t, sites[n], what+" at the "+n, "app."+dnssecZone, dns.TypeA, keys, signers))
		}
		if sets[0] != sets[1] {
			t.Errorf("%s: the sites publish different DNSKEY RRsets:\n%s\n%s", what, sets[0], sets[1])
		}
	}
	const ttlWait = (rollDNSKEYTTL + 1) * time.Second // the DNSKEY TTL (longer than the records') and a margin
	reached("start", tag(k1, z1), tag(z1))

	// Both DS records are in the parent (the resolvers' trust anchors)
	// from the start: the double-DS KSK rollover below needs no change
	// of anchors while it runs.
	uL := startValidator(t, leader.DNS, append(ds1, ds2...))
	uF := startValidator(t, follower.DNS, append(ds1, ds2...))
	probe := startValidationProbe(map[string]*unbound{"leader": uL, "follower": uF})
	defer probe.halt()
	// wait lets the caches' DNSKEY RRset expire, checks that every answer
	// meanwhile validated, and that the resolvers now hold the new keys.
	wait := func(what string, keys []uint16) {
		t.Helper()
		time.Sleep(ttlWait)
		probe.check(t, what)
		for n, u := range map[string]*unbound{"leader": uL, "follower": uF} {
			r := mustDO(t, u.addr, dnssecZone, dns.TypeDNSKEY, "", true)
			if _, tags := dnskeys(r); !r.AuthenticatedData || !slices.Equal(tags, keys) {
				t.Errorf("%s: unbound before the %s holds DNSKEY tags %v (ad=%v), want %v", what, n, tags, r.AuthenticatedData, keys)
			}
		}
	}
	wait("start: KSK "+k1+", ZSK "+z1, tag(k1, z1))

	// (a) ZSK pre-publish: Z2 published, then signing, then Z1 removed.
	step(rollKey{name: k1}, rollKey{name: z1}, rollKey{name: z2, publish: true})
	reached("Z2 published", tag(k1, z1, z2), tag(z1))
	wait("ZSK rollover: "+z2+" published", tag(k1, z1, z2))
	step(rollKey{name: k1}, rollKey{name: z1, publish: true}, rollKey{name: z2})
	reached("Z2 active, Z1 published", tag(k1, z1, z2), tag(z2))
	wait("ZSK rollover: "+z2+" signing, "+z1+" published", tag(k1, z1, z2))
	step(rollKey{name: k1}, rollKey{name: z2})
	reached("Z1 removed", tag(k1, z2), tag(z2))
	wait("ZSK rollover: "+z1+" removed", tag(k1, z2))

	// (b) KSK double-DS: with both DS in the parent, the DNSKEY RRset
	// swaps K1 for K2 in one step.
	step(rollKey{name: k2}, rollKey{name: z2})
	reached("K2 for K1", tag(k2, z2), tag(z2))
	for _, n := range []string{"leader", "follower"} {
		r := mustDO(t, sites[n].DNS[0], dnssecZone, dns.TypeDNSKEY, "", false)
		if got := sigTags(r.Answer, dns.TypeDNSKEY); !slices.Equal(got, tag(k2)) {
			t.Errorf("the %s signs the DNSKEY RRset with %v, want only K2 %v: %s", n, got, tag(k2), describe(r))
		}
	}
	wait("KSK rollover: "+k2+" replaces "+k1, tag(k2, z2))
	probe.halt()
	probe.check(t, "end of the rollovers")

	// The old DS dropped: a fresh resolver with only the new anchor
	// validates, one with only the old anchor fails.
	for _, n := range []string{"leader", "follower"} {
		u := startValidator(t, sites[n].DNS, ds2)
		if r := mustDO(t, u.addr, "app."+dnssecZone, dns.TypeA, "", true); !r.AuthenticatedData || len(addrs(r)) == 0 {
			t.Errorf("unbound with only the new DS before the %s: want a validated answer, got ad=%v %s", n, r.AuthenticatedData, describe(r))
		}
		old := startValidator(t, sites[n].DNS, ds1)
		if r := mustDO(t, old.addr, "app."+dnssecZone, dns.TypeA, "", true); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("unbound with only the old DS before the %s, after the rollover: want SERVFAIL, got ad=%v %s", n, r.AuthenticatedData, describe(r))
		}
	}
	if t.Failed() {
		t.Logf("unbound before the leader:\n%s\nunbound before the follower:\n%s", uL.Out.String(), uF.Out.String())
	}
}
