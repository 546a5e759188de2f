package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
	"go.yaml.in/yaml/v3"
)

// TestHelmLint lints the chart with the leader and follower example values
// and with its defaults.
func TestHelmLint(t *testing.T) {
	h := newHelm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name, values string
		args         []string
	}{
		{"leader", ciValues(t, "leader"), nil},
		{"follower", ciValues(t, "follower"), nil},
		{"defaults", "", nil},
		{"leader loadBalancer", ciValues(t, "leader"), []string{"--set", "gossip.advertise.mode=loadBalancer"}},
		{"follower hostNetwork with persistence", ciValues(t, "follower"), []string{"--set", "gossip.advertise.mode=hostNetwork", "--set", "persistence.enabled=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir(t), "--namespace", namespace}
			if tc.values != "" {
				args = append(args, "--values", tc.values)
			}
			args = append(args, tc.args...)
			out, err := h.run(ctx, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Errorf("helm lint output:\n%s", out)
			}
		})
	}
}

// TestHelmTemplateRejects: values that cannot work fail the render with a
// message that names what to fix (values.schema.json or the chart's own
// checks), instead of producing pods that crash.
func TestHelmTemplateRejects(t *testing.T) {
	h := newHelm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader, follower := ciValues(t, "leader"), ciValues(t, "follower")
	for _, tc := range []struct {
		name   string
		values string
		args   []string
		want   string
	}{
		{"unknown top-level value", leader, []string{"--set", "replicas=3"}, "additional properties 'replicas' not allowed"},
		{"unknown nested value", leader, []string{"--set", "dns.service.typ=NodePort"}, "additional properties 'typ' not allowed"},
		{"cookie secret file in config", follower, []string{"--set", "config.dns.cookie_secret_file=/x"}, "config.dns.cookie_secret_file is set by the chart"},
		{"bad mode", leader, []string{"--set", "mode=standalone"}, "/mode"},
		{"bad service type", leader, []string{"--set", "dns.service.type=ExternalName"}, "/dns/service/type"},
		{"privileged container port", leader, []string{"--set", "dns.containerPort=53"}, "/dns/containerPort"},
		{"follower without gossip", follower, []string{"--set", "gossip.enabled=false"}, "/gossip/enabled"},
		{"follower with zones", follower, []string{"--set", "config.zones[0].name=gslb.example.com."}, "mode follower: config.zones must be empty"},
		{"follower with clusters", follower, []string{"--set", "kubernetes.clusters[0].context=a", "--set", "kubernetes.clusters[0].site=b"}, "only the leader watches the member clusters"},
		{"leader without kubeconfig", leader, []string{"--set", "kubernetes.memberKubeconfig.existingSecret="}, "mode leader needs the member kubeconfig"},
		{"leader with two kubeconfigs", leader, []string{"--set", "kubernetes.memberKubeconfig.create=true", "--set", "kubernetes.memberKubeconfig.content=x"}, "not both"},
		{"leader without clusters", leader, []string{"--set", "kubernetes.clusters=null"}, "mode leader needs kubernetes.clusters"},
		{"cluster of an unknown site", leader, []string{"--set", "kubernetes.clusters[0].context=moon", "--set", "kubernetes.clusters[0].site=moon"}, `maps to site "moon", which is not in config.sites`},
		{"leader site not in sites", leader, []string{"--set", "site=moon"}, `site "moon" is not in config.sites`},
		{"gossip without site", follower, []string{"--set", "site="}, "gossip.enabled needs site"},
		{"gossip without key", follower, []string{"--set", "gossip.keySecret.name="}, "gossip.enabled needs gossip.keySecret.name"},
		{"config sets dns.listen", leader, []string{"--set", "config.dns.listen[0]=:53"}, "config.dns.listen is set by the chart"},
		{"config sets gossip.role", follower, []string{"--set", "config.gossip.role=leader"}, "config.gossip.role is set by the chart"},
		{"config sets kubernetes.kubeconfig", leader, []string{"--set", "config.kubernetes.kubeconfig=/x"}, "config.kubernetes.kubeconfig is set by the chart"},
		{"config sets admin.token", leader, []string{"--set", "config.admin.token=secret"}, "config.admin.token is set by the chart"},
		{"config sets gossip.node_name", follower, []string{"--set", "config.gossip.node_name=a"}, "config.gossip.node_name is set by the chart"},
		{"config sets gossip.advertise", leader, []string{"--set", "config.gossip.advertise=192.0.2.1:7946"}, "config.gossip.advertise is set by the chart"},
		{"config sets gossip.advertise_service", follower, []string{"--set", "config.gossip.advertise_service=meridian/x"}, "config.gossip.advertise_service is set by the chart"},
		{"bad advertise mode", follower, []string{"--set", "gossip.advertise.mode=nodePort"}, "/gossip/advertise/mode"},
		{"loadBalancer without gossip", leader, []string{"--set", "gossip.enabled=false", "--set", "gossip.advertise.mode=loadBalancer"}, "gossip.advertise.mode loadBalancer needs gossip.enabled: true"},
		{"hostNetwork without gossip", leader, []string{"--set", "gossip.enabled=false", "--set", "gossip.advertise.mode=hostNetwork"}, "gossip.advertise.mode hostNetwork needs gossip.enabled: true"},
		{"fewer loadBalancerIPs than replicas", follower, []string{"--set", "gossip.advertise.mode=loadBalancer", "--set", "gossip.advertise.loadBalancerIPs={192.0.2.1}"}, "gossip.advertise.loadBalancerIPs has 1 addresses and replicaCount is 2"},
		{"more loadBalancerIPs than replicas", follower, []string{"--set", "gossip.advertise.mode=loadBalancer", "--set", "replicaCount=1", "--set", "gossip.advertise.loadBalancerIPs={192.0.2.1,192.0.2.2}"}, "gossip.advertise.loadBalancerIPs has 2 addresses and replicaCount is 1"},
		{"loadBalancerIPs without loadBalancer", follower, []string{"--set", "gossip.advertise.loadBalancerIPs={192.0.2.1,192.0.2.2}"}, "gossip.advertise.loadBalancerIPs is only used with gossip.advertise.mode loadBalancer"},
		{"unknown advertise value", follower, []string{"--set", "gossip.advertise.address=x"}, "additional properties 'address' not allowed"},
		{"persistence without size", follower, []string{"--set", "persistence.enabled=true", "--set", "persistence.size="}, "persistence.enabled needs persistence.size"},
		{"persistence size not a quantity", follower, []string{"--set", "persistence.enabled=true", "--set", "persistence.size=lots"}, "/persistence/size"},
		{"persistence access mode", follower, []string{"--set", "persistence.accessModes={ReadOnlyMany}"}, "/persistence/accessModes/0"},
		{"disruption budget of 0", follower, []string{"--set", "podDisruptionBudget.maxUnavailable=0"}, "/podDisruptionBudget/maxUnavailable"},
		{"full name too long for a StatefulSet", follower, []string{"--set", "fullnameOverride=" + strings.Repeat("m", 53)}, "a StatefulSet's pods need at most 52"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--values", tc.values}, tc.args...)
			out, err := h.template(ctx, t, args...)
			if err == nil {
				t.Fatalf("helm template %v succeeded, want an error containing %q; output:\n%.2000s", tc.args, tc.want, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template %v: error does not contain %q:\n%v", tc.args, tc.want, err)
			}
		})
	}
}

// render renders the chart with one of the example values files.
func render(t *testing.T, h *helmRunner, mode string, extra ...string) (string, []object) {
	t.Helper()
	return renderIn(t, h, namespace, mode, extra...)
}

// renderIn renders the chart in namespace ns with one of the example values
// files.
func renderIn(t *testing.T, h *helmRunner, ns, mode string, extra ...string) (string, []object) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := h.templateIn(ctx, t, ns, append([]string{"--values", ciValues(t, mode)}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out, decodeAll(t, out)
}

func kinds(objs []object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.kind()+"/"+o.name())
	}
	sort.Strings(ks)
	return ks
}

// TestRenderedManifests checks the security-relevant shape of what the
// chart renders: exactly these objects, least-privilege RBAC (nothing for a
// follower), the pod security settings, DNS on UDP and TCP 53 mapped to the
// unprivileged container port, the probes, the mounts.
func TestRenderedManifests(t *testing.T) {
	h := newHelm(t)

	t.Run("leader", func(t *testing.T) {
		_, objs := render(t, h, "leader")
		want := []string{
			"ClusterRole/" + fullname + "-" + namespace + "-policies",
			"ClusterRoleBinding/" + fullname + "-" + namespace + "-policies",
			"ConfigMap/" + fullname,
			"PodDisruptionBudget/" + fullname,
			"Role/" + fullname + "-leader",
			"RoleBinding/" + fullname + "-leader",
			"Service/" + fullname + "-dns",
			"Service/" + fullname + "-gossip",
			"Service/" + fullname + "-http",
			"Service/" + fullname + "-pods",
			"ServiceAccount/" + fullname,
			"StatefulSet/" + fullname,
		}
		if got := kinds(objs); !slices.Equal(got, want) {
			t.Errorf("objects:\n got %v\nwant %v", got, want)
		}
		for _, o := range objs {
			if o.kind() != "ClusterRole" && o.kind() != "ClusterRoleBinding" {
				if ns := path(o, "metadata", "namespace"); ns != namespace {
					t.Errorf("%s/%s: namespace %v, want %s", o.kind(), o.name(), ns, namespace)
				}
			}
		}

		cr := find(t, objs, "ClusterRole", fullname+"-"+namespace+"-policies")
		wantRules := []rule{
			{Groups: "gslb.meridian.io", Resources: "globalpolicies,hostpolicies", Verbs: "get,list,watch"},
			{Groups: "gslb.meridian.io", Resources: "globalpolicies/status,hostpolicies/status", Verbs: "patch,update"},
		}
		if got := rules(cr); !reflect.DeepEqual(got, wantRules) {
			t.Errorf("ClusterRole rules:\n got %+v\nwant %+v", got, wantRules)
		}
		role := find(t, objs, "Role", fullname+"-leader")
		wantRules = []rule{
			{Groups: "coordination.k8s.io", Resources: "leases", Verbs: "create"},
			{Groups: "coordination.k8s.io", Resources: "leases", Names: fullname + "-leader", Verbs: "get,update"},
			{Groups: ",events.k8s.io", Resources: "events", Verbs: "create,patch"},
		}
		if got := rules(role); !reflect.DeepEqual(got, wantRules) {
			t.Errorf("Role rules:\n got %+v\nwant %+v", got, wantRules)
		}
		for _, b := range []object{find(t, objs, "ClusterRoleBinding", fullname+"-"+namespace+"-policies"), find(t, objs, "RoleBinding", fullname+"-leader")} {
			subj := path(b, "subjects", 0)
			if path(subj, "kind") != "ServiceAccount" || path(subj, "name") != fullname || path(subj, "namespace") != namespace {
				t.Errorf("%s: subject %v, want ServiceAccount %s/%s", b.name(), subj, namespace, fullname)
			}
		}

		d := find(t, objs, "StatefulSet", fullname)
		if r := path(d, "spec", "replicas"); r != 2 {
			t.Errorf("leader replicas = %v, want 2", r)
		}
		if a := path(d, "spec", "template", "spec", "automountServiceAccountToken"); a != true {
			t.Errorf("leader automountServiceAccountToken = %v, want true (in-cluster access to the policies and the Lease)", a)
		}
		checkPod(t, d, []string{"config", "state", "tmp", "kubeconfig", "gossip-keys", "admin-token"})
		checkDNSService(t, find(t, objs, "Service", fullname+"-dns"), "LoadBalancer")
		if ip := path(find(t, objs, "Service", fullname+"-dns"), "spec", "loadBalancerIP"); ip != "198.51.100.53" {
			t.Errorf("dns Service loadBalancerIP = %v", ip)
		}
	})

	t.Run("follower", func(t *testing.T) {
		_, objs := render(t, h, "follower")
		want := []string{
			"ConfigMap/" + fullname,
			"PodDisruptionBudget/" + fullname,
			"Service/" + fullname + "-dns",
			"Service/" + fullname + "-http",
			"Service/" + fullname + "-pods",
			"ServiceAccount/" + fullname,
			"StatefulSet/" + fullname,
		}
		if got := kinds(objs); !slices.Equal(got, want) {
			t.Errorf("objects (a follower gets no RBAC and no kubeconfig):\n got %v\nwant %v", got, want)
		}
		sa := find(t, objs, "ServiceAccount", fullname)
		d := find(t, objs, "StatefulSet", fullname)
		for _, o := range []object{sa, d} {
			a := path(o, "automountServiceAccountToken")
			if o.kind() == "StatefulSet" {
				a = path(o, "spec", "template", "spec", "automountServiceAccountToken")
			}
			if a != false {
				t.Errorf("follower %s automountServiceAccountToken = %v, want false", o.kind(), a)
			}
		}
		checkPod(t, d, []string{"config", "state", "tmp", "gossip-keys"})
		svc := find(t, objs, "Service", fullname+"-dns")
		checkDNSService(t, svc, "NodePort")
		for i := range 2 {
			if np := path(svc, "spec", "ports", i, "nodePort"); np != 30053 {
				t.Errorf("dns Service port %d nodePort = %v, want 30053", i, np)
			}
		}
	})

	t.Run("single-cluster leader", func(t *testing.T) {
		_, objs := render(t, h, "leader", "--set", "gossip.enabled=false")
		for _, o := range objs {
			if o.kind() == "Service" && o.name() == fullname+"-gossip" {
				t.Errorf("gossip Service rendered with gossip disabled")
			}
		}
		d := find(t, objs, "StatefulSet", fullname)
		checkPod(t, d, []string{"config", "state", "tmp", "kubeconfig", "admin-token"})
		for _, p := range asList(path(d, "spec", "template", "spec", "containers", 0, "ports")) {
			if strings.HasPrefix(fmt.Sprint(path(p, "name")), "gossip") {
				t.Errorf("gossip port %v with gossip disabled", p)
			}
		}
		text, _ := path(find(t, objs, "ConfigMap", fullname), "data", "meridian.yaml").(string)
		var cfg map[string]any
		if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg["gossip"] != nil || cfg["kubernetes"] == nil {
			t.Errorf("config: gossip %v, kubernetes %v; want no gossip section and a kubernetes one", cfg["gossip"], cfg["kubernetes"])
		}
	})

	t.Run("member kubeconfig created from values", func(t *testing.T) {
		_, objs := render(t, h, "leader",
			"--set", "kubernetes.memberKubeconfig.existingSecret=",
			"--set", "kubernetes.memberKubeconfig.create=true",
			"--set-string", "kubernetes.memberKubeconfig.content=apiVersion: v1")
		s := find(t, objs, "Secret", fullname+"-member-kubeconfig")
		if got := path(s, "stringData", "kubeconfig"); got != "apiVersion: v1\n" {
			t.Errorf("Secret stringData.kubeconfig = %q", got)
		}
		d := find(t, objs, "StatefulSet", fullname)
		for _, v := range path(d, "spec", "template", "spec", "volumes").([]any) {
			if path(v, "name") == "kubeconfig" && path(v, "secret", "secretName") != fullname+"-member-kubeconfig" {
				t.Errorf("kubeconfig volume %v does not use the created Secret", v)
			}
		}
	})

	t.Run("ClusterIP and image digest", func(t *testing.T) {
		digest := "sha256:" + strings.Repeat("ab", 32)
		_, objs := render(t, h, "follower", "--set", "dns.service.type=ClusterIP", "--set", "image.digest="+digest)
		svc := find(t, objs, "Service", fullname+"-dns")
		checkDNSService(t, svc, "ClusterIP")
		if np := path(svc, "spec", "ports", 0, "nodePort"); np != nil {
			t.Errorf("ClusterIP Service has nodePort %v", np)
		}
		img := path(find(t, objs, "StatefulSet", fullname), "spec", "template", "spec", "containers", 0, "image")
		if img != "ghcr.io/meridian-gslb/meridian@"+digest {
			t.Errorf("image = %v, want the digest", img)
		}
	})
}

type rule struct{ Groups, Resources, Names, Verbs string }

func rules(o object) []rule {
	var out []rule
	join := func(v any, sorted bool) string {
		var ss []string
		for _, x := range asList(v) {
			ss = append(ss, fmt.Sprint(x))
		}
		if sorted {
			sort.Strings(ss)
		}
		return strings.Join(ss, ",")
	}
	for _, r := range asList(path(o, "rules")) {
		out = append(out, rule{
			Groups:    join(path(r, "apiGroups"), false),
			Resources: join(path(r, "resources"), false),
			Names:     join(path(r, "resourceNames"), false),
			Verbs:     join(path(r, "verbs"), true),
		})
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// checkPod checks the pod template of the StatefulSet.
func checkPod(t *testing.T, d object, wantVolumes []string) {
	t.Helper()
	pod := path(d, "spec", "template", "spec")
	for _, c := range []struct {
		steps []any
		want  any
	}{
		{[]any{"securityContext", "runAsNonRoot"}, true},
		{[]any{"securityContext", "runAsUser"}, 65532},
		{[]any{"securityContext", "seccompProfile", "type"}, "RuntimeDefault"},
		{[]any{"containers", 0, "securityContext", "runAsNonRoot"}, true},
		{[]any{"containers", 0, "securityContext", "runAsUser"}, 65532},
		{[]any{"containers", 0, "securityContext", "allowPrivilegeEscalation"}, false},
		{[]any{"containers", 0, "securityContext", "readOnlyRootFilesystem"}, true},
		{[]any{"containers", 0, "securityContext", "capabilities", "drop", 0}, "ALL"},
		{[]any{"containers", 0, "securityContext", "capabilities", "add"}, nil},
		{[]any{"containers", 0, "securityContext", "seccompProfile", "type"}, "RuntimeDefault"},
		{[]any{"containers", 0, "livenessProbe", "httpGet", "path"}, "/healthz"},
		{[]any{"containers", 0, "livenessProbe", "httpGet", "port"}, "http"},
		{[]any{"containers", 0, "readinessProbe", "httpGet", "path"}, "/readyz"},
		{[]any{"containers", 0, "readinessProbe", "httpGet", "port"}, "http"},
		{[]any{"containers", 0, "args", 0}, "serve"},
		{[]any{"containers", 0, "args", 1}, "--config=/etc/meridian/config/meridian.yaml"},
		{[]any{"hostNetwork"}, nil},
	} {
		if got := path(pod, c.steps...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("pod %v = %#v, want %#v", c.steps, got, c.want)
		}
	}
	// The pod's name and namespace reach the process: its Kubernetes
	// Events are filed in its own namespace (the Role covers no other)
	// and cluster Events regard its Pod.
	env := map[string]any{}
	for _, e := range asList(path(pod, "containers", 0, "env")) {
		env[fmt.Sprint(path(e, "name"))] = path(e, "valueFrom", "fieldRef", "fieldPath")
	}
	for name, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace", "POD_IP": "status.podIP", "HOST_IP": "status.hostIP"} {
		if env[name] != field {
			t.Errorf("env %s from %v, want the downward API's %s", name, env[name], field)
		}
	}
	ports := map[string]string{}
	for _, p := range asList(path(pod, "containers", 0, "ports")) {
		ports[fmt.Sprint(path(p, "name"))] = fmt.Sprintf("%v/%v", path(p, "containerPort"), path(p, "protocol"))
	}
	for name, want := range map[string]string{"dns-udp": "5353/UDP", "dns-tcp": "5353/TCP", "http": "8053/TCP"} {
		if ports[name] != want {
			t.Errorf("container port %s = %q, want %s", name, ports[name], want)
		}
	}
	var vols []string
	for _, v := range asList(path(pod, "volumes")) {
		vols = append(vols, fmt.Sprint(path(v, "name")))
		if path(v, "name") == "state" && path(v, "emptyDir") == nil {
			t.Errorf("state volume %v is not an emptyDir", v)
		}
	}
	if !slices.Equal(vols, wantVolumes) {
		t.Errorf("volumes = %v, want %v", vols, wantVolumes)
	}
	for _, m := range asList(path(pod, "containers", 0, "volumeMounts")) {
		if path(m, "subPath") != nil {
			t.Errorf("mount %v uses subPath: updates of the ConfigMap or Secret would not reach the pod", m)
		}
	}
}

func checkDNSService(t *testing.T, svc object, typ string) {
	t.Helper()
	if got := path(svc, "spec", "type"); got != typ {
		t.Errorf("dns Service type = %v, want %s", got, typ)
	}
	var got []string
	for _, p := range asList(path(svc, "spec", "ports")) {
		got = append(got, fmt.Sprintf("%v:%v->%v", path(p, "protocol"), path(p, "port"), path(p, "targetPort")))
	}
	if want := []string{"UDP:53->dns-udp", "TCP:53->dns-tcp"}; !slices.Equal(got, want) {
		t.Errorf("dns Service ports = %v, want %v", got, want)
	}
}

// TestRenderedConfigIsValid runs `meridian check-config` (the checks serve
// runs) on the configuration file the chart renders, with the mounted
// files (gossip keys, admin token, kubeconfig) replaced by real ones, so a
// config key the binary does not know fails here rather than in a
// CrashLoopBackOff. It runs with the MERIDIAN_* environment the StatefulSet
// gives the container, expanded as the kubelet would for pod 0 (each
// gossip.advertise.mode), so the per-pod identity and address are checked
// by the binary too.
//
// Until the Kubernetes leader code (issue #4) knows the kubernetes section,
// the leader's file is checked without it and the test says so in its log;
// once the binary knows the section, it is checked whole.
func TestRenderedConfigIsValid(t *testing.T) {
	h := newHelm(t)
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Built as the tests are (with -race under go test -race), so the
	// build reuses the test build's compiled dependencies.
	bin := filepath.Join(t.TempDir(), "meridian")
	if err := proctest.BuildMeridian(filepath.Join(root, "cmd", "meridian"), bin); err != nil {
		t.Fatal(err)
	}
	key, err := exec.CommandContext(ctx, bin, "gossip-key").Output()
	if err != nil {
		t.Fatalf("meridian gossip-key: %v", err)
	}

	for _, tc := range []struct {
		name, mode string
		args       []string
	}{
		{"leader", "leader", nil},
		{"follower", "follower", nil},
		{"leader loadBalancer", "leader", []string{"--set", "gossip.advertise.mode=loadBalancer"}},
		{"follower loadBalancer", "follower", []string{"--set", "gossip.advertise.mode=loadBalancer"}},
		{"follower hostNetwork", "follower", []string{"--set", "gossip.advertise.mode=hostNetwork", "--set", "gossip.port=7950"}},
		{"single-cluster leader", "leader", []string{"--set", "gossip.enabled=false"}},
		{"follower with the DNS cookie secret", "follower", []string{"--set", "dns.cookieSecret.name=dns-cookies"}},
		{"follower with DNSSEC keys", "follower", []string{"--set", "dns.dnssecKeySecret.name=dnssec-keys"}},
	} {
		mode := tc.mode
		t.Run(tc.name, func(t *testing.T) {
			_, objs := render(t, h, mode, tc.args...)
			env := podEnv(t, find(t, objs, "StatefulSet", fullname), map[string]string{
				"POD_NAME": fullname + "-0", "POD_NAMESPACE": namespace, "POD_IP": "10.244.1.7", "HOST_IP": "192.0.2.10",
			})
			t.Logf("environment: %v", env)
			cm := find(t, objs, "ConfigMap", fullname)
			text, _ := path(cm, "data", "meridian.yaml").(string)
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
				t.Fatalf("the rendered meridian.yaml is not YAML: %v\n%s", err, text)
			}
			dir := t.TempDir()
			files := map[string]string{
				"gossip.key_file":        "keys\n" + string(key),
				"admin.token_file":       "token\n" + base64.RawURLEncoding.EncodeToString([]byte("an admin token for the chart test")) + "\n",
				"kubernetes.kubeconfig":  "kubeconfig\n" + fakeKubeconfig(cfg),
				"dns.cookie_secret_file": "cookies\n000102030405060708090a0b0c0d0e0f\n",
			}
			for key, spec := range files {
				sec, field, _ := strings.Cut(key, ".")
				m, _ := cfg[sec].(map[string]any)
				if m == nil || m[field] == nil {
					continue
				}
				name, content, _ := strings.Cut(spec, "\n")
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				m[field] = p
			}
			if g, _ := cfg["gossip"].(map[string]any); g != nil {
				g["state_file"] = filepath.Join(dir, "state")
			}
			if d, _ := cfg["dns"].(map[string]any); d != nil && d["dnssec_key_directory"] != nil {
				kd := filepath.Join(dir, "dnssec") // the mounted Secret: a directory
				if err := os.Mkdir(kd, 0o700); err != nil {
					t.Fatal(err)
				}
				d["dnssec_key_directory"] = kd
			}
			out, err := checkConfig(ctx, t, bin, dir, cfg, env)
			if err != nil && mode == "leader" && strings.TrimSpace(out) == "kubernetes: unknown key" {
				t.Logf("NOTE: this meridian binary does not know the kubernetes section yet (the leader code of issue #4); checking the rest of the leader's file")
				delete(cfg, "kubernetes")
				out, err = checkConfig(ctx, t, bin, dir, cfg, env)
			}
			if err != nil {
				t.Errorf("meridian check-config refuses the %s config the chart renders: %v\n%s\nconfig:\n%s", mode, err, out, text)
			}
		})
	}
}

// checkConfig runs check-config on cfg with the given MERIDIAN_*
// environment (and none inherited from the test's).
func checkConfig(ctx context.Context, t *testing.T, bin, dir string, cfg map[string]any, env []string) (string, error) {
	t.Helper()
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "meridian.yaml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "check-config", file)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MERIDIAN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// podEnv is the container's MERIDIAN_* environment as the kubelet gives it:
// $(VAR) references to variables defined earlier expanded, the downward API
// fields taken from fields (by variable name).
func podEnv(t *testing.T, sts object, fields map[string]string) []string {
	t.Helper()
	defined := map[string]string{}
	var out []string
	for _, e := range asList(path(sts, "spec", "template", "spec", "containers", 0, "env")) {
		name := fmt.Sprint(path(e, "name"))
		if path(e, "valueFrom", "fieldRef") != nil {
			v, ok := fields[name]
			if !ok {
				t.Fatalf("env %s from the downward API %v: no test value", name, path(e, "valueFrom"))
			}
			defined[name] = v
			continue
		}
		v, ok := path(e, "value").(string)
		if !ok {
			continue
		}
		for ref, val := range defined {
			v = strings.ReplaceAll(v, "$("+ref+")", val)
		}
		if strings.Contains(v, "$(") {
			t.Errorf("env %s = %q: a reference the kubelet would not expand", name, v)
		}
		defined[name] = v
		if strings.HasPrefix(name, "MERIDIAN_") {
			out = append(out, name+"="+v)
		}
	}
	return out
}

// fakeKubeconfig has one context per kubernetes.clusters entry, all
// pointing at a loopback address nobody listens on.
func fakeKubeconfig(cfg map[string]any) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n")
	first := ""
	for _, c := range asList(path(cfg, "kubernetes", "clusters")) {
		ctx := fmt.Sprint(path(c, "context"))
		if first == "" {
			first = ctx
		}
		fmt.Fprintf(&b, "- name: %q\n  context:\n    cluster: c\n    user: u\n", ctx)
	}
	fmt.Fprintf(&b, "current-context: %q\n", first)
	return b.String()
}

// TestNotes renders NOTES.txt (helm install --dry-run=client, no cluster)
// and checks it tells how to query the DNS Service and, per gossip
// connection mode, how to read each pod's advertised address. A want
// starting with "!" must not be there.
func TestNotes(t *testing.T) {
	h := newHelm(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		mode string
		args []string
		want []string
	}{
		{"leader", nil, []string{"dig @$IP -p 53 gslb.example.com SOA", "meridian explain", "kubectl get gpol,hpol"}},
		{"follower", nil, []string{`jsonpath='{.spec.ports[?(@.name=="dns-udp")].nodePort}'`, "dig @NODE_IP -p $PORT"}},
		{"follower", []string{"--set", "dns.service.type=ClusterIP"}, []string{"dig @" + fullname + "-dns." + namespace + ".svc -p 53"}},
		{"leader", nil, []string{
			"rollout status statefulset/" + fullname,
			"gossip.advertise.mode podIP",
			"pod IP of " + fullname + "-0: kubectl -n " + namespace + " get pod " + fullname + "-0 -o jsonpath='{.status.podIP}'",
			"pod IP of " + fullname + "-1:",
			`kubectl get --raw "/api/v1/namespaces/` + namespace + `/pods/` + fullname + `-0:8053/proxy/api/v1/sites"`,
			"!pod IP of " + fullname + "-2", "!-gossip", "!node IP of",
			"5. The policies",
		}},
		{"leader", []string{"--set", "gossip.enabled=false"}, []string{"!gossip address", "!/api/v1/sites", "4. The policies"}},
		{"follower", []string{"--set", "gossip.advertise.mode=hostNetwork", "--set", "gossip.port=7950"}, []string{
			"gossip.advertise.mode hostNetwork",
			"node IP of " + fullname + "-1: kubectl -n " + namespace + " get pod " + fullname + "-1 -o jsonpath='{.status.hostIP}'",
			"port 7950",
		}},
		{"follower", []string{"--set", "gossip.advertise.mode=loadBalancer", "--set", "replicaCount=3"}, []string{
			"gossip.advertise.mode loadBalancer",
			"kubectl -n " + namespace + " get svc " + fullname + "-0-gossip",
			"kubectl -n " + namespace + " get svc " + fullname + "-2-gossip",
			"/proxy/api/v1/sites",
			"!" + fullname + "-3-gossip", "!(fixed:", "!pod IP of",
		}},
		{"leader", []string{"--set", "gossip.advertise.mode=loadBalancer", "--set", "gossip.advertise.loadBalancerIPs={198.51.100.71,198.51.100.72}"}, []string{
			"get svc " + fullname + "-0-gossip   (fixed: 198.51.100.71:7946)",
			"get svc " + fullname + "-1-gossip   (fixed: 198.51.100.72:7946)",
		}},
	} {
		args := append([]string{"install", release, chartDir(t), "--namespace", namespace, "--dry-run=client", "--values", ciValues(t, tc.mode)}, tc.args...)
		out, err := h.run(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		_, notes, ok := strings.Cut(out, "\nNOTES:\n")
		if !ok {
			t.Fatalf("%s %v: no NOTES in:\n%s", tc.mode, tc.args, out)
		}
		for _, w := range tc.want {
			if not, ok := strings.CutPrefix(w, "!"); ok {
				if strings.Contains(notes, not) {
					t.Errorf("%s %v: NOTES have %q:\n%s", tc.mode, tc.args, not, notes)
				}
			} else if !strings.Contains(notes, w) {
				t.Errorf("%s %v: NOTES lack %q:\n%s", tc.mode, tc.args, w, notes)
			}
		}
	}
}

// dns.cookieSecret and dns.dnssecKeySecret mount their Secret and point
// the configuration at it: every site given the same Secret accepts the
// others' cookies, and signs with the same DNSSEC keys.
func TestSecretMounts(t *testing.T) {
	h := newHelm(t)
	for _, tc := range []struct {
		value, secret, volume, mountPath, key, want string
	}{
		{"dns.cookieSecret.name", "dns-cookies", "cookie-secret", "/etc/meridian/cookies", "cookie_secret_file", "/etc/meridian/cookies/cookies"},
		{"dns.dnssecKeySecret.name", "dnssec-keys", "dnssec-keys", "/etc/meridian/dnssec", "dnssec_key_directory", "/etc/meridian/dnssec"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			_, objs := render(t, h, "follower", "--set", tc.value+"="+tc.secret)
			text, _ := path(find(t, objs, "ConfigMap", fullname), "data", "meridian.yaml").(string)
			var cfg struct {
				DNS map[string]any `yaml:"dns"`
			}
			if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.DNS[tc.key] != tc.want {
				t.Errorf("dns.%s = %v, want %s", tc.key, cfg.DNS[tc.key], tc.want)
			}
			sts := find(t, objs, "StatefulSet", fullname)
			vols, _ := path(sts, "spec", "template", "spec", "volumes").([]any)
			found := slices.ContainsFunc(vols, func(v any) bool {
				vm, _ := v.(map[string]any)
				return vm["name"] == tc.volume && path(vm, "secret", "secretName") == tc.secret
			})
			mounts, _ := path(sts, "spec", "template", "spec", "containers", 0, "volumeMounts").([]any)
			mounted := slices.ContainsFunc(mounts, func(m any) bool {
				mm, _ := m.(map[string]any)
				return mm["name"] == tc.volume && mm["mountPath"] == tc.mountPath
			})
			if !found || !mounted {
				t.Errorf("the Secret is not mounted (volume %v, mount %v)", found, mounted)
			}
			_, without := render(t, h, "follower")
			if text, _ := path(find(t, without, "ConfigMap", fullname), "data", "meridian.yaml").(string); strings.Contains(text, tc.key) {
				t.Errorf("without %s the config names dns.%s:\n%s", tc.value, tc.key, text)
			}
		})
	}
}
