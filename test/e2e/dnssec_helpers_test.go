package e2e

// Helpers of dnssec_test.go: keys made and read with the real `meridian
// dnssec` commands, a validating unbound, DNSSEC-aware queries, and the
// configs of a signed leader, follower and parent (root) zone.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// dnssecZone is the signed zone of the DNSSEC tests (unbound's waitAnswer
// asks for ns1 in it).
const dnssecZone = "gslb.example."

// dnssecKeygen runs `meridian dnssec keygen` for dnssecZone into dir and
// returns the key's name (K<zone>+<alg>+<tag>), as the command prints it.
func dnssecKeygen(t *testing.T, dir, role string) string {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o700))
	cmd := exec.Command(meridianBin, "dnssec", "keygen", "--zone", dnssecZone, "--dir", dir, "--role", role)
	cmd.Env = proctest.MeridianEnv()
	stdout, stderr, err := proctest.RunSplit(15*time.Second, cmd)
	name := strings.TrimSpace(stdout)
	if err != nil || !strings.HasPrefix(name, "K"+dnssecZone+"+") || strings.Contains(name, "\n") {
		t.Fatalf("meridian dnssec keygen --role %s: %v\nstdout: %s\nstderr: %s", role, err, stdout, stderr)
	}
	for _, ext := range []string{".key", ".private"} {
		if _, err := os.Stat(filepath.Join(dir, name+ext)); err != nil {
			t.Fatalf("meridian dnssec keygen printed %s but wrote no %s: %v", name, ext, err)
		}
	}
	return name
}

// keyTag is the tag at the end of a key's name.
func keyTag(t *testing.T, name string) uint16 {
	t.Helper()
	i := strings.LastIndexByte(name, '+')
	n, err := strconv.ParseUint(name[i+1:], 10, 16)
	if i < 0 || err != nil {
		t.Fatalf("key name %q: no tag", name)
	}
	return uint16(n)
}

// dnssecDS runs `meridian dnssec ds args...` and returns its DS records,
// checked to parse, one per line of its output.
func dnssecDS(t *testing.T, args ...string) []*dns.DS {
	t.Helper()
	cmd := exec.Command(meridianBin, append([]string{"dnssec", "ds"}, args...)...)
	cmd.Env = proctest.MeridianEnv()
	stdout, stderr, err := proctest.RunSplit(15*time.Second, cmd)
	if err != nil {
		t.Fatalf("meridian dnssec ds %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	var out []*dns.DS
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		rr, err := dns.NewRR(line)
		ds, ok := rr.(*dns.DS)
		if err != nil || !ok || ds.Hdr.Name != dnssecZone || ds.DigestType != dns.SHA256 {
			t.Fatalf("meridian dnssec ds %s: line %q is not a SHA-256 DS of %s (%v)", strings.Join(args, " "), line, dnssecZone, err)
		}
		out = append(out, ds)
	}
	return out
}

// dsRdata is a DS record's data: "tag alg digesttype DIGEST".
func dsRdata(ds *dns.DS) string {
	return fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
}

// copyKeys copies the key pairs names from one key directory to another
// (each site has its own copy of the same files).
func copyKeys(t *testing.T, from, to string, names ...string) {
	t.Helper()
	must(t, os.MkdirAll(to, 0o700))
	for _, n := range names {
		for _, ext := range []string{".key", ".private"} {
			b, err := os.ReadFile(filepath.Join(from, n+ext))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(to, n+ext), b, 0o600))
		}
	}
}

// delvAnchors writes a trust-anchors file for delv with the DS records.
func delvAnchors(t *testing.T, dir, name string, dss []*dns.DS) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("trust-anchors {\n")
	for _, ds := range dss {
		fmt.Fprintf(&b, "  %s static-ds %d %d %d \"%s\";\n", ds.Hdr.Name, ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
	}
	b.WriteString("};\n")
	return writeFile(t, dir, name, b.String())
}

// ---- a validating unbound ----

// startValidator runs unbound validating dnssecZone with the DS records as
// its trust anchors, the zone (and the root, which Meridian refuses) stubbed
// to servers, with its ECS cache in front as in TestUnboundECS. Like
// startUnbound it chooses its port again if another process took it.
func startValidator(t *testing.T, servers []string, anchors []*dns.DS) *unbound {
	t.Helper()
	return startUnboundWith(t, func(dir string, port int) string { return writeValidatorConf(t, dir, port, servers, anchors) })
}

func writeValidatorConf(t *testing.T, dir string, port int, servers []string, anchors []*dns.DS) string {
	t.Helper()
	tas := []string{"    # the zone is signed: validated from these DS records (no domain-insecure)"}
	for _, ds := range anchors {
		tas = append(tas, fmt.Sprintf("    trust-anchor: \"%s\"", strings.Join(strings.Fields(ds.String()), " ")))
	}
	return writeResolverConf(t, dir, port, servers, strings.Join(tas, "\n"))
}

// ---- queries ----

// doQuery asks server for name/qtype with DO=1 (and ECS when ecs is not
// ""), recursion desired when rd; a truncated answer is asked again over
// TCP.
func doQuery(server, name string, qtype uint16, ecs string, rd bool) (*dns.Msg, error) {
	m := newMsg(dnsQuery{name: name, qtype: qtype, ecs: ecs})
	m.RecursionDesired = rd
	m.IsEdns0().SetDo()
	var r *dns.Msg
	var err error
	for _, n := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: n, Timeout: 3 * time.Second}
		if r, _, err = c.Exchange(m, server); err != nil || !r.Truncated {
			break
		}
	}
	return r, err
}

func mustDO(t *testing.T, server, name string, qtype uint16, ecs string, rd bool) *dns.Msg {
	t.Helper()
	r, err := doQuery(server, name, qtype, ecs, rd)
	if err != nil {
		t.Fatalf("%s %s (DO=1) @%s: %v", name, dns.TypeToString[qtype], server, err)
	}
	return r
}

// sigTags returns the sorted key tags of the RRSIGs covering covered in rrs.
func sigTags(rrs []dns.RR, covered uint16) []uint16 {
	var out []uint16
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == covered && !slices.Contains(out, s.KeyTag) {
			out = append(out, s.KeyTag)
		}
	}
	slices.Sort(out)
	return out
}

// dnskeys returns the DNSKEY RRset of an answer in a canonical form
// (sorted presentation lines, TTL included) and the keys' sorted tags.
func dnskeys(r *dns.Msg) (string, []uint16) {
	var lines []string
	var tags []uint16
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			lines = append(lines, k.String())
			tags = append(tags, k.KeyTag())
		}
	}
	slices.Sort(lines)
	slices.Sort(tags)
	return strings.Join(lines, "\n"), tags
}

// ---- configs ----

// signedDemo is the demo config (zonemasterZone's copy, with the SOA
// timers zonemaster wants) signed with keys, its name servers ns1, ns2...
// at nsAddrs, its health checks on port checkPort (0: unchanged), and
// more top-level keys (dns, gossip) merged in.
func signedDemo(t *testing.T, keyDir string, keys []string, nsAddrs []string, checkPort int, more map[string]any) string {
	t.Helper()
	raw := zonemasterZone(t)
	if checkPort != 0 {
		raw = demoChecksOn(t, raw, checkPort)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	z := cfg["zones"].([]any)[0].(map[string]any)
	var ns []any
	for i, a := range nsAddrs {
		ns = append(ns, map[string]any{"name": fmt.Sprintf("ns%d.%s", i+1, dnssecZone), "addresses": []string{a}})
	}
	z["nameservers"] = ns
	var ks []any
	for _, k := range keys {
		ks = append(ks, map[string]any{"name": k})
	}
	z["dnssec"] = map[string]any{"keys": ks}
	cfg["dns"] = map[string]any{"dnssec_key_directory": keyDir}
	for k, v := range more {
		cfg[k] = v
	}
	out, err := yaml.Marshal(cfg)
	must(t, err)
	return "# testdata/demo/meridian.yaml, signed (test/e2e/dnssec_test.go)\n" + string(out)
}

// rootZone is a root zone "." served at rootAddr (a.root-servers.test.),
// delegating dnssecZone to ns1, ns2... at nsAddrs, with the DS records:
// the parent of the signed zone.
func rootZone(rootAddr string, nsAddrs []string, dss []*dns.DS) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# the parent of %[1]s: a root zone with its delegation and DS
zones:
  - name: .
    soa: {mname: a.root-servers.test., rname: hostmaster.root-servers.test., serial: 2026112101, refresh: 14400, retry: 3600, expire: 1209600, minimum: 3600, ttl: 86400}
    nameservers:
      - name: a.root-servers.test.
        addresses: [%[2]s]
    ns_ttl: 518400
    records:
`, dnssecZone, rootAddr)
	for i, a := range nsAddrs {
		fmt.Fprintf(&b, "      - '%s 86400 IN NS ns%d.%s'\n", dnssecZone, i+1, dnssecZone)
		fmt.Fprintf(&b, "      - 'ns%d.%s 86400 IN A %s'\n", i+1, dnssecZone, a)
	}
	for _, ds := range dss {
		fmt.Fprintf(&b, "      - '%s 86400 IN DS %s'\n", dnssecZone, dsRdata(ds))
	}
	return b.String()
}

// gossipSection is a site's gossip settings as a YAML map for signedDemo
// or a flow map (the rollover test's configs).
func gossipSection(role, site, listen, keyFile, stateFile string, join ...string) map[string]any {
	return map[string]any{
		"role": role, "site": site, "node_name": "node-" + site, "listen": listen, "key_file": keyFile,
		"state_file": stateFile, "timing": "local", "push_pull_interval": "1s", "join": join,
	}
}

func flowYAML(t *testing.T, v any) string {
	t.Helper()
	var n yaml.Node
	must(t, n.Encode(v))
	n.Style = yaml.FlowStyle
	out, err := yaml.Marshal(&n)
	must(t, err)
	return strings.TrimSpace(string(out))
}

// waitServes polls m (directly, DO=1) until its DNSKEY RRset has exactly
// the tags keys and the RRSIGs over what of name come from exactly the
// tags signers, and returns the DNSKEY RRset.
func waitServes(t *testing.T, m *meridian, what string, name string, qtype uint16, keys, signers []uint16) string {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		k := mustDO(t, m.DNS[0], dnssecZone, dns.TypeDNSKEY, "", false)
		set, tags := dnskeys(k)
		a := mustDO(t, m.DNS[0], name, qtype, "", false)
		sigs := sigTags(append(a.Answer, a.Ns...), qtype)
		if len(a.Answer) == 0 {
			sigs = sigTags(a.Ns, dns.TypeNSEC)
		}
		if slices.Equal(tags, keys) && slices.Equal(sigs, signers) {
			return set
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s serves DNSKEY tags %v (want %v) and %s %s signed by %v (want %v) after %v\nDNSKEY: %s\n%s: %s",
				what, m.DNS[0], tags, keys, name, dns.TypeToString[qtype], sigs, signers, hangGuard, describe(k), name, describe(a))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keepFile copies a file of t's temporary directory, which is removed at
// the end of the test, to the system's temporary directory for a look
// after a failure, and returns the copy's path.
func keepFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.CreateTemp("", "meridian-e2e-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Sprintf("not kept: %v", err)
	}
	defer f.Close()
	b, err := os.ReadFile(path)
	if err == nil {
		_, err = f.Write(b)
	}
	if err != nil {
		return fmt.Sprintf("not kept: %v", err)
	}
	return f.Name()
}
