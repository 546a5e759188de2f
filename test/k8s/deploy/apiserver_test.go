package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
)

const gslbCluster = "gslb"

// TestOnAPIServer applies what deploy/ ships to one real kube-apiserver
// (RBAC authorization on): the CRDs with plain `kubectl apply -f`, the
// leader's and the follower's rendered manifests with --dry-run=server, then
// the leader's for real to check its RBAC by SubjectAccessReview;
// deploy/member-rbac.yaml for real, used with a token of its
// ServiceAccount; sample GlobalPolicy and HostPolicy objects, valid and
// invalid, against the CRDs' schema and CEL rules; the status subresource,
// printer columns, short names and category.
func TestOnAPIServer(t *testing.T) {
	h := newHelm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	begin := time.Now()
	env := k8stest.Start(t, k8stest.Options{Clusters: []string{gslbCluster}, RBAC: true})
	t.Logf("kube-apiserver ready in %v", time.Since(begin).Round(time.Millisecond))
	kubectl := func(args ...string) (string, error) { return env.Kubectl(ctx, gslbCluster, args...) }
	kubectlIn := func(stdin string, args ...string) (string, error) {
		return env.KubectlStdin(ctx, gslbCluster, strings.NewReader(stdin), args...)
	}
	must := func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// The CRDs as a user installs or upgrades them without Helm.
	begin = time.Now()
	must(kubectl("apply", "-f", crdDir(t)))
	must(kubectl("wait", "--for=condition=Established", "--timeout=60s",
		"crd/globalpolicies.gslb.meridian.io", "crd/hostpolicies.gslb.meridian.io"))
	// the release namespace enforces the restricted Pod Security Standard
	must(kubectlIn("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+namespace+"\n  labels:\n"+
		"    pod-security.kubernetes.io/enforce: restricted\n    pod-security.kubernetes.io/enforce-version: latest\n",
		"create", "-f", "-"))
	t.Logf("CRDs established in %v", time.Since(begin).Round(time.Millisecond))

	// every gossip connection mode, and persistence, for both modes
	variants := []struct {
		name, mode string
		args       []string
	}{
		{"leader", "leader", nil},
		{"follower", "follower", nil},
		{"leader loadBalancer", "leader", []string{"--set", "gossip.advertise.mode=loadBalancer"}},
		{"follower loadBalancer with fixed addresses and persistence", "follower", []string{
			"--set", "gossip.advertise.mode=loadBalancer", "--set", "replicaCount=3",
			"--set", "gossip.advertise.loadBalancerIPs={203.0.113.71,203.0.113.72,203.0.113.73}",
			"--set", "gossip.advertise.loadBalancerClass=example.com/lb",
			"--set", "gossip.advertise.externalTrafficPolicy=Local",
			"--set", "gossip.advertise.loadBalancerSourceRanges={198.51.100.0/24}",
			"--set", "persistence.enabled=true", "--set", "persistence.storageClassName=fast"}},
		{"leader hostNetwork with persistence", "leader", []string{"--set", "gossip.advertise.mode=hostNetwork", "--set", "persistence.enabled=true"}},
		{"follower hostNetwork", "follower", []string{"--set", "gossip.advertise.mode=hostNetwork", "--set", "gossip.port=7950"}},
		{"single-cluster leader", "leader", []string{"--set", "gossip.enabled=false"}},
		{"leader with the Grafana dashboard", "leader", []string{"--set", "grafana.dashboard.enabled=true", "--set", "grafana.dashboard.annotations.grafana_folder=GSLB"}},
	}
	t.Run("chart dry-run=server", func(t *testing.T) {
		for _, v := range variants {
			manifests, objs := render(t, h, v.mode, v.args...)
			out, err := kubectlIn(manifests, "apply", "--dry-run=server", "-f", "-")
			if err != nil {
				t.Errorf("%s manifests: %v", v.name, err)
				continue
			}
			if n := strings.Count(out, "(server dry run)"); n != len(objs) {
				t.Errorf("%s: %d objects applied (server dry run), want %d:\n%s", v.name, n, len(objs), out)
			}
		}
	})

	t.Run("leader RBAC", func(t *testing.T) {
		manifests, _ := render(t, h, "leader")
		must(kubectlIn(manifests, "apply", "-f", "-"))
		sa := "system:serviceaccount:" + namespace + ":" + fullname
		lease := fullname + "-leader"
		checkCanI(t, kubectlIn, sa, []canI{
			{"get globalpolicies.gslb.meridian.io", true},
			{"list globalpolicies.gslb.meridian.io", true},
			{"watch hostpolicies.gslb.meridian.io", true},
			{"patch globalpolicies.gslb.meridian.io --subresource=status", true},
			{"update hostpolicies.gslb.meridian.io --subresource=status", true},
			{"update globalpolicies.gslb.meridian.io", false}, // the spec is the user's
			{"create hostpolicies.gslb.meridian.io", false},
			{"delete globalpolicies.gslb.meridian.io", false},
			{"create leases.coordination.k8s.io -n " + namespace, true},
			{"get leases.coordination.k8s.io/" + lease + " -n " + namespace, true},
			{"update leases.coordination.k8s.io/" + lease + " -n " + namespace, true},
			{"get leases.coordination.k8s.io/other -n " + namespace, false},
			{"delete leases.coordination.k8s.io/" + lease + " -n " + namespace, false},
			{"create leases.coordination.k8s.io -n default", false},
			{"create events -n " + namespace, true},
			{"patch events -n " + namespace, true}, // client-go's recorder patches a repeated Event
			{"patch events.events.k8s.io -n " + namespace, true},
			{"create events -n default", false},
			{"get secrets -n " + namespace, false},
			{"get configmaps -n " + namespace, false},
			{"list ingresses.networking.k8s.io -A", false},
			{"list pods -n " + namespace, false},
		})
	})

	// gossip.advertise.mode loadBalancer: every pod may get its own gossip
	// Service and nothing else; a follower gets no other right. The
	// follower goes to a namespace of its own (the same release name).
	followerNS := namespace + "-follower"
	t.Run("gossip advertise RBAC", func(t *testing.T) {
		manifests, _ := render(t, h, "leader", "--set", "gossip.advertise.mode=loadBalancer")
		must(kubectlIn(manifests, "apply", "-f", "-"))
		sa := "system:serviceaccount:" + namespace + ":" + fullname
		checkCanI(t, kubectlIn, sa, []canI{
			{"get services/" + fullname + "-0-gossip -n " + namespace, true},
			{"get services/" + fullname + "-1-gossip -n " + namespace, true},
			{"get services/" + fullname + "-2-gossip -n " + namespace, false}, // replicaCount 2
			{"get services/" + fullname + "-dns -n " + namespace, false},
			{"list services -n " + namespace, false},
			{"watch services -n " + namespace, false},
			{"update services/" + fullname + "-0-gossip -n " + namespace, false},
			{"patch services/" + fullname + "-0-gossip -n " + namespace + " --subresource=status", false},
			{"get services/" + fullname + "-0-gossip -n default", false},
			{"get leases.coordination.k8s.io/" + fullname + "-leader -n " + namespace, true}, // still the leader's
		})

		must(kubectlIn("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+followerNS+"\n", "create", "-f", "-"))
		manifests, _ = renderIn(t, h, followerNS, "follower", "--set", "gossip.advertise.mode=loadBalancer", "--set", "replicaCount=3")
		must(kubectlIn(manifests, "apply", "-f", "-"))
		sa = "system:serviceaccount:" + followerNS + ":" + fullname
		checkCanI(t, kubectlIn, sa, []canI{
			{"get services/" + fullname + "-0-gossip -n " + followerNS, true},
			{"get services/" + fullname + "-2-gossip -n " + followerNS, true},
			{"get services/" + fullname + "-3-gossip -n " + followerNS, false},
			{"get services/" + fullname + "-dns -n " + followerNS, false},
			{"list services -n " + followerNS, false},
			{"get services/" + fullname + "-0-gossip -n " + namespace, false},
			{"get secrets -n " + followerNS, false},
			{"get configmaps -n " + followerNS, false},
			{"list pods -n " + followerNS, false},
			{"create leases.coordination.k8s.io -n " + followerNS, false},
			{"create events -n " + followerNS, false},
			{"list globalpolicies.gslb.meridian.io", false},
		})
	})

	// After "leader RBAC" and "gossip advertise RBAC": the pods'
	// ServiceAccounts exist.
	t.Run("pods pass the restricted Pod Security Standard", func(t *testing.T) {
		podOf := func(name, ns string, sts object) string {
			t.Helper()
			pod := map[string]any{
				"apiVersion": "v1",
				"kind":       "Pod",
				"metadata":   map[string]any{"name": name, "namespace": ns, "labels": path(sts, "spec", "template", "metadata", "labels")},
				"spec":       path(sts, "spec", "template", "spec"),
			}
			b, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		for _, v := range variants {
			if strings.Contains(v.name, "hostNetwork") || strings.Contains(v.name, "persistence") {
				continue // below; a claim template's volume is no pod volume
			}
			_, objs := render(t, h, v.mode, v.args...)
			d := find(t, objs, "StatefulSet", fullname)
			if out, err := kubectlIn(podOf("psa", namespace, d), "create", "--dry-run=server", "-f", "-"); err != nil {
				t.Errorf("%s pod refused: %v", v.name, err)
			} else if !strings.Contains(out, "(server dry run)") {
				t.Errorf("%s pod: %s", v.name, out)
			}
		}
		// hostNetwork needs a namespace that allows host networking (as
		// docs/kubernetes.md says): refused under restricted, admitted
		// where Pod Security is not enforced
		_, objs := render(t, h, "follower", "--set", "gossip.advertise.mode=hostNetwork")
		d := find(t, objs, "StatefulSet", fullname)
		if _, err := kubectlIn(podOf("psa-hostnet", namespace, d), "create", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(err.Error(), "hostNetwork=true") {
			t.Errorf("a hostNetwork pod under the restricted standard: %v, want refused for hostNetwork=true", err)
		}
		_, objs = renderIn(t, h, followerNS, "follower", "--set", "gossip.advertise.mode=hostNetwork")
		d = find(t, objs, "StatefulSet", fullname)
		if out, err := kubectlIn(podOf("psa-hostnet", followerNS, d), "create", "--dry-run=server", "-f", "-"); err != nil {
			t.Errorf("hostNetwork pod refused: %v", err)
		} else if !strings.Contains(out, "(server dry run)") {
			t.Errorf("hostNetwork pod: %s", out)
		}
		// the check bites: a pod that may escalate is refused
		if _, err := kubectlIn(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad","namespace":"`+namespace+`"},"spec":{"serviceAccountName":"`+fullname+`","containers":[{"name":"c","image":"x"}]}}`,
			"create", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Errorf("a pod without a security context was not refused by Pod Security admission: %v", err)
		}
	})

	t.Run("member RBAC", func(t *testing.T) {
		must(kubectl("apply", "-f", filepath.Join(repoRoot(t), "deploy", "member-rbac.yaml")))
		sa := "system:serviceaccount:meridian-system:meridian-member"
		read := []string{"ingresses.networking.k8s.io", "services", "endpointslices.discovery.k8s.io", "namespaces",
			"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io",
			"grpcroutes.gateway.networking.k8s.io", "tlsroutes.gateway.networking.k8s.io"}
		var checks []canI
		for _, r := range read {
			for _, verb := range []string{"get", "list", "watch"} {
				checks = append(checks, canI{verb + " " + r + " -A", true})
			}
			for _, verb := range []string{"create", "update", "patch", "delete"} {
				checks = append(checks, canI{verb + " " + r + " -A", false})
			}
		}
		checks = append(checks,
			canI{"patch ingresses.networking.k8s.io --subresource=status -A", false},
			canI{"get secrets -A", false},
			canI{"list configmaps -A", false},
			canI{"list pods -A", false},
			canI{"list endpoints -A", false},
			canI{"list globalpolicies.gslb.meridian.io", false},
		)
		checkCanI(t, kubectlIn, sa, checks)

		// The same identity with a real token, as the leader uses it.
		token := strings.TrimSpace(must(kubectl("-n", "meridian-system", "create", "token", "meridian-member", "--duration=10m")))
		kc := filepath.Join(t.TempDir(), "member-kubeconfig")
		if err := env.WriteKubeconfig(kc, map[string]string{gslbCluster: token}); err != nil {
			t.Fatal(err)
		}
		run := func(args ...string) (string, error) {
			cmd := env.KubectlCmd(ctx, kc, gslbCluster, args...)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := run("get", "ingresses,services,endpointslices", "-A"); err != nil {
			t.Errorf("member identity cannot read what Meridian watches: %v\n%s", err, out)
		}
		if out, err := run("get", "secrets", "-A"); err == nil || !strings.Contains(out, "Forbidden") {
			t.Errorf("member identity reads Secrets (err %v):\n%s", err, out)
		}
		// the long-lived token Secret is accepted (the token controller of a
		// real cluster fills it in; this apiserver runs none)
		if out, err := kubectl("-n", "meridian-system", "get", "secret", "meridian-member-token", "-o", "jsonpath={.type}"); err != nil || out != "kubernetes.io/service-account-token" {
			t.Errorf("token Secret: %q %v", out, err)
		}
	})

	t.Run("policies", func(t *testing.T) { testPolicies(t, kubectl, kubectlIn) })
}

type canI struct {
	args string // "VERB RESOURCE[.GROUP][/NAME] [-n NAMESPACE | -A] [--subresource=SUB]"
	want bool
}

// checkCanI asks the apiserver, in one SubjectAccessReview per check (all
// created with one kubectl call), whether the ServiceAccount user may do
// each thing. Unlike `kubectl auth can-i`, it needs no discovery, so it
// works for resources whose CRDs are not installed (the Gateway API).
func checkCanI(t *testing.T, kubectlIn func(string, ...string) (string, error), user string, checks []canI) {
	t.Helper()
	parts := strings.Split(user, ":") // system:serviceaccount:NS:NAME
	if len(parts) != 4 {
		t.Fatalf("user %q is not a ServiceAccount", user)
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for _, c := range checks {
		f := strings.Fields(c.args)
		verb, res := f[0], f[1]
		res, name, _ := strings.Cut(res, "/")
		res, group, _ := strings.Cut(res, ".")
		ns, sub := "", ""
		for i := 2; i < len(f); i++ {
			switch {
			case f[i] == "-n":
				i++
				ns = f[i]
			case f[i] == "-A":
			case strings.HasPrefix(f[i], "--subresource="):
				sub = strings.TrimPrefix(f[i], "--subresource=")
			default:
				t.Fatalf("check %q: unknown flag %q", c.args, f[i])
			}
		}
		fmt.Fprintf(&b, "- apiVersion: authorization.k8s.io/v1\n  kind: SubjectAccessReview\n  spec:\n"+
			"    user: %q\n    groups: [system:serviceaccounts, %q, system:authenticated]\n"+
			"    resourceAttributes: {verb: %q, group: %q, resource: %q, subresource: %q, name: %q, namespace: %q}\n",
			user, "system:serviceaccounts:"+parts[2], verb, group, res, sub, name, ns)
	}
	out, err := kubectlIn(b.String(), "create", "-f", "-", "-o", "jsonpath={.status.allowed}{\"\\n\"}")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(checks) {
		t.Fatalf("%d answers for %d SubjectAccessReviews:\n%s", len(got), len(checks), out)
	}
	for i, c := range checks {
		if (got[i] == "true") != c.want {
			t.Errorf("%s may %s: %s, want %v", user, c.args, got[i], c.want)
		}
	}
}

func gpol(name, spec string) string {
	return fmt.Sprintf("apiVersion: gslb.meridian.io/v1alpha1\nkind: GlobalPolicy\nmetadata:\n  name: %s\nspec:\n%s", name, indent(spec))
}

func hpol(name, spec string) string {
	return fmt.Sprintf("apiVersion: gslb.meridian.io/v1alpha1\nkind: HostPolicy\nmetadata:\n  name: %s\nspec:\n%s", name, indent(spec))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func testPolicies(t *testing.T, kubectl func(...string) (string, error), kubectlIn func(string, ...string) (string, error)) {
	root := repoRoot(t)
	// The examples of docs/kubernetes.md.
	for _, f := range []string{"globalpolicy.yaml", "hostpolicy.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "deploy", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := kubectlIn(string(b), "apply", "--dry-run=server", "-f", "-"); err != nil {
			t.Errorf("deploy/examples/%s: %v", f, err)
		} else if !strings.Contains(out, "(server dry run)") {
			t.Errorf("deploy/examples/%s: %s", f, out)
		}
	}

	// A minimal GlobalPolicy gets no defaults from the schema: what it
	// leaves out comes from the config's kubernetes.default_policy.
	out, err := kubectlIn(gpol("minimal", "selector:\n  objectSelector:\n    matchLabels: {gslb: \"true\"}\n"),
		"create", "--dry-run=server", "-f", "-", "-o", "jsonpath={.spec.strategy}|{.spec.ttl}|{.spec.hostnameVIPs}")
	if err != nil || out != "||" {
		t.Errorf("minimal GlobalPolicy: %q %v, want no strategy, ttl or hostnameVIPs set by the schema", out, err)
	}
	// A minimal HostPolicy gets none: what it leaves out is inherited.
	out, err = kubectlIn(hpol("a.gslb.example.com", "fqdn: a.gslb.example.com\n"),
		"create", "--dry-run=server", "-f", "-", "-o", "jsonpath={.spec}")
	if err != nil || out != `{"fqdn":"a.gslb.example.com"}` {
		t.Errorf("minimal HostPolicy: %q %v, want only the fqdn", out, err)
	}

	valid := []struct{ name, doc string }{
		{"every strategy and down response", gpol("v1", "strategy: consistenthash\nttl: 86400\ndegradedTTL: 0\nanswers: 8\nminUp: 0\ndownResponse: {type: all}\npersistence: {enabled: false, ipv4Mask: 32, ipv6Mask: 128}\n")},
		{"health check bounds", gpol("v2", "healthCheck: {kind: tcp, port: 65535, interval: 1h, timeout: 59m59s, rise: 100, fall: 1}\n")},
		{"fractional durations", gpol("v3", "healthCheck: {kind: http, interval: 1.5s, timeout: 500ms, expectStatus: [\"200\", \"300-399\"], method: HEAD, path: /}\n")},
		{"IPv6 fallback", gpol("v4", "downResponse: {type: fallback, addresses: [\"2001:db8::1\", 192.0.2.1]}\n")},
		{"selector expressions", gpol("v5", "selector:\n  objectSelector:\n    matchExpressions:\n    - {key: gslb, operator: Exists}\n    - {key: tier, operator: NotIn, values: [dev]}\n  namespaces: [shop, web]\n  kinds: [Ingress, TLSRoute, GRPCRoute]\n")},
		{"third-party member by hostname", hpol("h1", "fqdn: b.gslb.example.com\nthirdPartyMembers:\n- {site: us-east, hostname: lb.example.net., weight: 65535, priority: 1000}\n")},
		{"public addresses", hpol("h2", "fqdn: c.gslb.example.com\nsites:\n- {cluster: eu-west, publicAddresses: [\"2001:db8::80\", 198.51.100.80]}\n")},
		{"topology rules, hash mask, geo tie band", gpol("v6", "strategy: topology\ngeoTieKm: 250\nhashMask: {ipv4: 16, ipv6: 48}\ntopology:\n"+
			"- {cidrs: [10.0.0.0/8, \"2001:db8::/32\"], sites: [eu-west]}\n- {countries: [ie, GB], continents: [EU, as], sites: [eu-west, us-east]}\n")},
		{"https check with a CA and jitter", gpol("v7", "healthCheck:\n  kind: https\n  sni: app.example.com\n  jitter: 10%\n  caPEM: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----\n")},
		{"jitter forms", gpol("v8", "healthCheck: {kind: tcp, jitter: 250ms}\n")},
		{"jitter fraction", gpol("v9", "healthCheck: {jitter: \"0.1\"}\n")},
		{"fast re-probe", gpol("v11", "healthCheck: {kind: tcp, interval: 1s, fastInterval: 200ms}\n")},
		{"fast re-probe off", gpol("v12", "healthCheck: {kind: tcp, interval: 1s, fastInterval: 1s}\n")},
		{"http fields without a kind (inherited)", gpol("v10", "healthCheck: {path: /healthz, expectStatus: [\"200\"]}\n")},
		{"third-party member probe port", hpol("h3", "fqdn: d.gslb.example.com\nthirdPartyMembers:\n- {site: us-east, addresses: [192.0.2.1], probeAddress: 10.0.0.1, probePort: 8443}\n")},
	}
	for _, tc := range valid {
		if out, err := kubectlIn(tc.doc, "create", "--dry-run=server", "-f", "-"); err != nil {
			t.Errorf("valid %s refused: %v\n%s", tc.name, err, tc.doc)
		} else if !strings.Contains(out, "(server dry run)") {
			t.Errorf("valid %s: %s", tc.name, out)
		}
	}

	invalid := []struct{ name, doc, want string }{
		{"fallback without addresses", gpol("x", "downResponse: {type: fallback}\n"),
			"downResponse type fallback requires addresses"},
		{"fallback with empty addresses", gpol("x", "downResponse: {type: fallback, addresses: []}\n"),
			"downResponse type fallback requires addresses"},
		{"addresses without fallback", gpol("x", "downResponse: {type: none, addresses: [192.0.2.1]}\n"),
			"downResponse addresses are only used with type fallback"},
		{"down response without type", gpol("x", "downResponse: {addresses: [192.0.2.1]}\n"),
			"spec.downResponse.type: Required value"},
		{"fallback address not an IP", gpol("x", "downResponse: {type: fallback, addresses: [192.0.2.300]}\n"),
			"spec.downResponse.addresses[0]: Invalid value: \"192.0.2.300\": must be an IP address"},
		{"bad strategy", gpol("x", "strategy: fastest\n"),
			`spec.strategy: Unsupported value: "fastest"`},
		{"rise 0", gpol("x", "healthCheck: {rise: 0}\n"),
			"spec.healthCheck.rise: Invalid value: 0: spec.healthCheck.rise in body should be greater than or equal to 1"},
		{"fall 101", hpol("x", "fqdn: a.example.com\nhealthCheck: {fall: 101}\n"),
			"spec.healthCheck.fall: Invalid value: 101: spec.healthCheck.fall in body should be less than or equal to 100"},
		{"ttl 0", gpol("x", "ttl: 0\n"),
			"spec.ttl: Invalid value: 0: spec.ttl in body should be greater than or equal to 1"},
		{"answers 17", gpol("x", "answers: 17\n"),
			"spec.answers: Invalid value: 17"},
		{"bad health check kind", gpol("x", "healthCheck: {kind: icmp}\n"),
			`spec.healthCheck.kind: Unsupported value: "icmp"`},
		{"port 0", gpol("x", "healthCheck: {port: 0}\n"),
			"spec.healthCheck.port: Invalid value: 0"},
		{"interval without unit", gpol("x", "healthCheck: {interval: \"10\"}\n"),
			"spec.healthCheck.interval: Invalid value: \"10\": spec.healthCheck.interval in body should match"},
		{"malformed timeout with an interval", gpol("x", "healthCheck: {interval: 5s, timeout: 2 s}\n"),
			"spec.healthCheck.timeout: Invalid value: \"2 s\": spec.healthCheck.timeout in body should match"},
		{"interval too short", gpol("x", "healthCheck: {interval: 50ms}\n"),
			"interval must be between 100ms and 1h"},
		{"timeout not below interval", gpol("x", "healthCheck: {interval: 2s, timeout: 2s}\n"),
			"timeout must be less than interval"},
		{"bad expected status", gpol("x", "healthCheck: {expectStatus: [\"2xx\"]}\n"),
			"spec.healthCheck.expectStatus[0]"},
		{"ipv4 mask 33", gpol("x", "persistence: {ipv4Mask: 33}\n"),
			"spec.persistence.ipv4Mask: Invalid value: 33"},
		{"weight over 65535", gpol("x", "sites: [{cluster: a, weight: 65536}]\n"),
			"spec.sites[0].weight: Invalid value: 65536"},
		{"priority over 1000", gpol("x", "sites: [{cluster: a, priority: 1001}]\n"),
			"spec.sites[0].priority: Invalid value: 1001"},
		{"site without cluster", gpol("x", "sites: [{weight: 1}]\n"),
			"spec.sites[0].cluster: Required value"},
		{"same cluster twice", gpol("x", "sites: [{cluster: a}, {cluster: a}]\n"),
			"spec.sites[1]: Duplicate value"},
		{"same cluster twice in clusters", gpol("x", "clusters: [a, a]\n"),
			"spec.clusters[1]: Duplicate value"},
		{"bad kind", gpol("x", "selector: {kinds: [Pod]}\n"),
			`spec.selector.kinds[0]: Unsupported value: "Pod"`},
		{"In without values", gpol("x", "selector:\n  objectSelector:\n    matchExpressions: [{key: a, operator: In}]\n"),
			"operators In and NotIn need values"},
		{"bad namespace name", gpol("x", "selector: {namespaces: [Shop]}\n"),
			"spec.selector.namespaces[0]"},
		{"unknown field", gpol("x", "strategyy: geo\n"),
			`unknown field "spec.strategyy"`},
		{"host policy without fqdn", hpol("x", "strategy: geo\n"),
			"spec.fqdn: Required value"},
		{"upper-case fqdn", hpol("x", "fqdn: Shop.Example.com\n"),
			"spec.fqdn: Invalid value: \"Shop.Example.com\""},
		{"fqdn with final dot", hpol("x", "fqdn: shop.example.com.\n"),
			"spec.fqdn: Invalid value"},
		{"third-party member with both", hpol("x", "fqdn: a.example.com\nthirdPartyMembers: [{site: s, addresses: [192.0.2.1], hostname: a.example.net}]\n"),
			"a third-party member needs exactly one of addresses or hostname"},
		{"third-party member with neither", hpol("x", "fqdn: a.example.com\nthirdPartyMembers: [{site: s, weight: 1}]\n"),
			"a third-party member needs exactly one of addresses or hostname"},
		{"third-party member without site", hpol("x", "fqdn: a.example.com\nthirdPartyMembers: [{addresses: [192.0.2.1]}]\n"),
			"spec.thirdPartyMembers[0].site: Required value"},
		{"third-party address not an IP", hpol("x", "fqdn: a.example.com\nthirdPartyMembers: [{site: s, addresses: [example.net]}]\n"),
			"spec.thirdPartyMembers[0].addresses[0]: Invalid value: \"example.net\": must be an IP address"},
		{"probe address not an IP", hpol("x", "fqdn: a.example.com\nthirdPartyMembers: [{site: s, addresses: [192.0.2.1], probeAddress: nope}]\n"),
			"spec.thirdPartyMembers[0].probeAddress: Invalid value: \"nope\": must be an IP address"},
		{"public address not an IP", hpol("x", "fqdn: a.example.com\nsites: [{cluster: a, publicAddresses: [\"10.0.0.0/8\"]}]\n"),
			"spec.sites[0].publicAddresses[0]: Invalid value: \"10.0.0.0/8\": must be an IP address"},
		{"topology rule without clients", gpol("x", "topology: [{sites: [a]}]\n"),
			"spec.topology[0]: Invalid value: a topology rule needs cidrs, countries or continents"},
		{"topology rule without sites", gpol("x", "topology: [{countries: [IE]}]\n"),
			"spec.topology[0].sites: Required value"},
		{"topology CIDR with host bits", gpol("x", "topology: [{cidrs: [10.1.2.3/8], sites: [a]}]\n"),
			"spec.topology[0].cidrs[0]: Invalid value: \"10.1.2.3/8\": must be a CIDR prefix without host bits"},
		{"topology CIDR that is an address", gpol("x", "topology: [{cidrs: [10.0.0.1], sites: [a]}]\n"),
			"must be a CIDR prefix without host bits"},
		{"unknown continent", gpol("x", "topology: [{continents: [XX], sites: [a]}]\n"),
			`spec.topology[0].continents[0]: Unsupported value: "XX"`},
		{"country of three letters", gpol("x", "topology: [{countries: [IRL], sites: [a]}]\n"),
			`spec.topology[0].countries[0]: Invalid value: "IRL"`},
		{"negative geo tie band", gpol("x", "geoTieKm: -1\n"),
			"spec.geoTieKm: Invalid value: -1"},
		{"hash mask ipv6 129", hpol("x", "fqdn: a.example.com\nhashMask: {ipv6: 129}\n"),
			"spec.hashMask.ipv6: Invalid value: 129"},
		{"path on a tcp check", gpol("x", "healthCheck: {kind: tcp, path: /healthz}\n"),
			"path, method, host, expectStatus and bodyContains are only for http and https checks"},
		{"sni on an http check", gpol("x", "healthCheck: {kind: http, sni: app.example.com}\n"),
			"sni, tlsSkipVerify and caPEM are only for https checks"},
		{"tlsSkipVerify with a CA", gpol("x", "healthCheck: {kind: https, tlsSkipVerify: true, caPEM: \"-----BEGIN CERTIFICATE-----\"}\n"),
			"tlsSkipVerify conflicts with caPEM"},
		{"caPEM that is no PEM", gpol("x", "healthCheck: {kind: https, caPEM: /etc/ssl/ca.pem}\n"),
			"caPEM must hold PEM certificates"},
		{"fastInterval above interval", gpol("x", "healthCheck: {interval: 1s, fastInterval: 2s}\n"),
			"fastInterval must be at most interval"},
		{"fastInterval too short", gpol("x", "healthCheck: {fastInterval: 50ms}\n"),
			"fastInterval must be between 100ms and 1h"},
		{"bad jitter", gpol("x", "healthCheck: {jitter: lots}\n"),
			`spec.healthCheck.jitter: Invalid value: "lots"`},
		{"third-party probe port 0", hpol("x", "fqdn: a.example.com\nthirdPartyMembers: [{site: s, addresses: [192.0.2.1], probePort: 0}]\n"),
			"spec.thirdPartyMembers[0].probePort: Invalid value: 0"},
	}
	for _, tc := range invalid {
		out, err := kubectlIn(tc.doc, "create", "--dry-run=server", "-f", "-")
		if err == nil {
			t.Errorf("invalid %s accepted: %s\n%s", tc.name, out, tc.doc)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("invalid %s: the error does not contain %q:\n%v", tc.name, tc.want, err)
		}
		// a malformed duration is reported by its pattern alone: the CEL
		// rules skip what they cannot parse
		if strings.Contains(err.Error(), "type conversion error") {
			t.Errorf("invalid %s: a CEL rule failed to evaluate instead of being skipped:\n%v", tc.name, err)
		}
		msg := strings.TrimSpace(err.Error())
		t.Logf("%s: %s", tc.name, msg[strings.LastIndex(msg, "\n")+1:])
	}

	// The status subresource, as the leader writes it, and what kubectl get
	// shows: printer columns, short names, the category.
	if _, err := kubectlIn(gpol("shop", "strategy: weighted\nttl: 20\n"), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectlIn(hpol("shop.gslb.example.com", "fqdn: shop.gslb.example.com\nstrategy: roundrobin\n"), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	status := fmt.Sprintf(`{"status":{"observedGeneration":1,"services":3,"conditions":[{"type":"Accepted","status":"True","reason":"Valid","message":"3 services","lastTransitionTime":%q,"observedGeneration":1}]}}`, now)
	if _, err := kubectl("patch", "gpol", "shop", "--subresource=status", "--type=merge", "-p", status); err != nil {
		t.Fatal(err)
	}
	hstatus := fmt.Sprintf(`{"status":{"observedGeneration":1,"conditions":[{"type":"Accepted","status":"False","reason":"Invalid","message":"unknown site moon","lastTransitionTime":%q}]}}`, now)
	if _, err := kubectl("patch", "hpol", "shop.gslb.example.com", "--subresource=status", "--type=merge", "-p", hstatus); err != nil {
		t.Fatal(err)
	}
	// status.lastAccepted keeps the accepted spec as it was, whatever its
	// fields (a later schema may have dropped some)
	lastAccepted := `{"status":{"lastAccepted":{"generation":1,"spec":{"strategy":"weighted","ttl":20,"topology":[{"countries":["IE"],"sites":["eu-west"]}]}}}}`
	if _, err := kubectl("patch", "gpol", "shop", "--subresource=status", "--type=merge", "-p", lastAccepted); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl("get", "gpol", "shop", "-o", "jsonpath={.status.lastAccepted.generation}/{.status.lastAccepted.spec.topology[0].sites[0]}"); err != nil || out != "1/eu-west" {
		t.Errorf("status.lastAccepted read back as %q (%v), want 1/eu-west", out, err)
	}
	if _, err := kubectl("patch", "gpol", "shop", "--subresource=status", "--type=merge", "-p", `{"status":{"lastAccepted":{"generation":0}}}`); err == nil {
		t.Errorf("status.lastAccepted with generation 0 was accepted")
	}
	// a status that breaks the schema is refused too
	if _, err := kubectl("patch", "gpol", "shop", "--subresource=status", "--type=merge", "-p", `{"status":{"conditions":[{"type":"Accepted","status":"Maybe"}]}}`); err == nil {
		t.Errorf("a condition with status Maybe and no reason was accepted")
	}
	// a status written through the main resource is ignored
	if _, err := kubectl("patch", "gpol", "shop", "--type=merge", "-p", `{"status":{"services":99}}`); err != nil {
		t.Fatal(err)
	}

	out = strings.Join(strings.Fields(must2(t)(kubectl("get", "gpol", "-o", "wide", "--no-headers"))), " ")
	if !strings.HasPrefix(out, "shop weighted 20 True 3 Valid 3 services") {
		t.Errorf("kubectl get gpol -o wide: %q, want NAME STRATEGY TTL ACCEPTED SERVICES REASON MESSAGE AGE = shop weighted 20 True 3 Valid 3 services ...", out)
	}
	out = strings.Join(strings.Fields(must2(t)(kubectl("get", "hpol", "-o", "wide", "--no-headers"))), " ")
	if !strings.HasPrefix(out, "shop.gslb.example.com shop.gslb.example.com roundrobin False Invalid unknown site moon") {
		t.Errorf("kubectl get hpol -o wide: %q", out)
	}
	out = must2(t)(kubectl("get", "meridian", "-o", "name"))
	if want := "globalpolicy.gslb.meridian.io/shop\nhostpolicy.gslb.meridian.io/shop.gslb.example.com\n"; out != want {
		t.Errorf("kubectl get meridian (the category): %q, want %q", out, want)
	}
	if out := must2(t)(kubectl("get", "gpol,hpol", "-o", "name")); strings.Count(out, "\n") != 2 {
		t.Errorf("kubectl get gpol,hpol: %q", out)
	}
}

func must2(t *testing.T) func(string, error) string {
	return func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}
