package deploy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// envVar is one container environment variable: a value, or the downward
// API field it comes from.
type envVar struct {
	index int
	value string
	field string
}

func containerEnv(sts object) map[string]envVar {
	env := map[string]envVar{}
	for i, e := range asList(path(sts, "spec", "template", "spec", "containers", 0, "env")) {
		v, _ := path(e, "value").(string)
		f, _ := path(e, "valueFrom", "fieldRef", "fieldPath").(string)
		env[fmt.Sprint(path(e, "name"))] = envVar{index: i, value: v, field: f}
	}
	return env
}

// renderedConfig is the meridian.yaml of the rendered ConfigMap.
func renderedConfig(t *testing.T, objs []object) map[string]any {
	t.Helper()
	text, _ := path(find(t, objs, "ConfigMap", fullname), "data", "meridian.yaml").(string)
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func hasObject(objs []object, kind, name string) bool {
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return true
		}
	}
	return false
}

// TestStatefulSet checks what gives each pod a stable identity: a
// StatefulSet started in parallel, governed by a headless Service that
// publishes pods before they are ready, and a PodDisruptionBudget that
// selects exactly its pods.
func TestStatefulSet(t *testing.T) {
	h := newHelm(t)
	for _, mode := range []string{"leader", "follower"} {
		t.Run(mode, func(t *testing.T) {
			_, objs := render(t, h, mode)
			sts := find(t, objs, "StatefulSet", fullname)
			if got := path(sts, "spec", "serviceName"); got != fullname+"-pods" {
				t.Errorf("serviceName = %v, want %s-pods", got, fullname)
			}
			if got := path(sts, "spec", "podManagementPolicy"); got != "Parallel" {
				t.Errorf("podManagementPolicy = %v, want Parallel", got)
			}
			if got := path(sts, "spec", "volumeClaimTemplates"); got != nil {
				t.Errorf("volumeClaimTemplates without persistence: %v", got)
			}
			selector, _ := path(sts, "spec", "selector", "matchLabels").(map[string]any)
			podLabels, _ := path(sts, "spec", "template", "metadata", "labels").(map[string]any)
			if len(selector) == 0 {
				t.Fatalf("StatefulSet without a selector")
			}
			for k, v := range selector {
				if podLabels[k] != v {
					t.Errorf("pod template label %s = %v, the selector wants %v", k, podLabels[k], v)
				}
			}

			svc := find(t, objs, "Service", fullname+"-pods")
			if got := path(svc, "spec", "clusterIP"); got != "None" {
				t.Errorf("%s-pods clusterIP = %v, want None (headless)", fullname, got)
			}
			if got := path(svc, "spec", "publishNotReadyAddresses"); got != true {
				t.Errorf("%s-pods publishNotReadyAddresses = %v, want true (a follower is ready only once gossip brought it a state)", fullname, got)
			}
			if got := path(svc, "spec", "selector"); !reflect.DeepEqual(got, any(selector)) {
				t.Errorf("%s-pods selector = %v, want the StatefulSet's %v", fullname, got, selector)
			}
			var ports []string
			for _, p := range asList(path(svc, "spec", "ports")) {
				ports = append(ports, fmt.Sprintf("%v:%v->%v", path(p, "protocol"), path(p, "port"), path(p, "targetPort")))
			}
			if want := []string{"TCP:8053->http", "UDP:7946->gossip-udp", "TCP:7946->gossip-tcp"}; !slices.Equal(ports, want) {
				t.Errorf("%s-pods ports = %v, want %v", fullname, ports, want)
			}

			pdb := find(t, objs, "PodDisruptionBudget", fullname)
			if got := path(pdb, "spec", "selector", "matchLabels"); !reflect.DeepEqual(got, any(selector)) {
				t.Errorf("PDB selector = %v, want the StatefulSet's %v", got, selector)
			}
			if got := path(pdb, "spec", "maxUnavailable"); got != 1 {
				t.Errorf("PDB maxUnavailable = %v, want 1", got)
			}
			if got := path(pdb, "spec", "unhealthyPodEvictionPolicy"); got != "AlwaysAllow" {
				t.Errorf("PDB unhealthyPodEvictionPolicy = %v, want AlwaysAllow (a pod without a state must not block a drain)", got)
			}
		})
	}

	t.Run("one replica: no PodDisruptionBudget", func(t *testing.T) {
		_, objs := render(t, h, "follower", "--set", "replicaCount=1")
		if hasObject(objs, "PodDisruptionBudget", fullname) {
			t.Errorf("a PodDisruptionBudget with one replica can only block drains")
		}
	})

	t.Run("gossip disabled: headless Service without gossip ports", func(t *testing.T) {
		_, objs := render(t, h, "leader", "--set", "gossip.enabled=false")
		svc := find(t, objs, "Service", fullname+"-pods")
		for _, p := range asList(path(svc, "spec", "ports")) {
			if strings.HasPrefix(fmt.Sprint(path(p, "name")), "gossip") {
				t.Errorf("gossip port %v with gossip disabled", p)
			}
		}
		env := containerEnv(find(t, objs, "StatefulSet", fullname))
		for _, name := range []string{"MERIDIAN_GOSSIP_NODE_NAME", "MERIDIAN_GOSSIP_ADVERTISE", "MERIDIAN_GOSSIP_ADVERTISE_SERVICE"} {
			if _, ok := env[name]; ok {
				t.Errorf("env %s with gossip disabled", name)
			}
		}
	})
}

// TestGossipAdvertiseModes renders every connection mode for both modes and
// checks the per-pod address wiring: the environment the server reads, the
// per-pod LoadBalancer Services and the Role that lets a pod read its own
// (and nothing else), host networking with required anti-affinity.
func TestGossipAdvertiseModes(t *testing.T) {
	h := newHelm(t)
	for _, tc := range []struct {
		name      string
		mode      string // leader or follower
		advertise string
		args      []string
		replicas  int
		port      int
		lbIPs     []string
	}{
		{"leader podIP (default)", "leader", "podIP", nil, 2, 7946, nil},
		{"follower podIP", "follower", "podIP", []string{"--set", "gossip.advertise.mode=podIP", "--set", "gossip.port=7950"}, 2, 7950, nil},
		{"leader loadBalancer", "leader", "loadBalancer", []string{"--set", "gossip.advertise.mode=loadBalancer"}, 2, 7946, nil},
		{"follower loadBalancer, 3 replicas, fixed addresses", "follower", "loadBalancer", []string{
			"--set", "gossip.advertise.mode=loadBalancer", "--set", "replicaCount=3",
			"--set", "gossip.advertise.loadBalancerIPs={203.0.113.71,203.0.113.72,203.0.113.73}",
			"--set", "gossip.advertise.loadBalancerClass=example.com/lb",
			"--set", "gossip.advertise.annotations.example\\.com/lb-type=external",
			"--set", "gossip.advertise.externalTrafficPolicy=Local",
			"--set", "gossip.advertise.loadBalancerSourceRanges={198.51.100.0/24}",
		}, 3, 7946, []string{"203.0.113.71", "203.0.113.72", "203.0.113.73"}},
		{"leader hostNetwork", "leader", "hostNetwork", []string{"--set", "gossip.advertise.mode=hostNetwork"}, 2, 7946, nil},
		{"follower hostNetwork", "follower", "hostNetwork", []string{"--set", "gossip.advertise.mode=hostNetwork", "--set", "gossip.port=7950"}, 2, 7950, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, objs := render(t, h, tc.mode, tc.args...)
			sts := find(t, objs, "StatefulSet", fullname)
			pod := path(sts, "spec", "template", "spec")
			env := containerEnv(sts)

			// identity and address, from variables defined before them
			want := map[string]string{"MERIDIAN_GOSSIP_NODE_NAME": "$(POD_NAME)"}
			switch tc.advertise {
			case "podIP":
				want["MERIDIAN_GOSSIP_ADVERTISE"] = fmt.Sprintf("$(POD_IP):%d", tc.port)
			case "hostNetwork":
				want["MERIDIAN_GOSSIP_ADVERTISE"] = fmt.Sprintf("$(HOST_IP):%d", tc.port)
			case "loadBalancer":
				want["MERIDIAN_GOSSIP_ADVERTISE_SERVICE"] = "$(POD_NAMESPACE)/$(POD_NAME)-gossip"
			}
			for _, name := range []string{"MERIDIAN_GOSSIP_NODE_NAME", "MERIDIAN_GOSSIP_ADVERTISE", "MERIDIAN_GOSSIP_ADVERTISE_SERVICE"} {
				e, ok := env[name]
				if want[name] == "" {
					if ok {
						t.Errorf("env %s = %q, want it unset in mode %s", name, e.value, tc.advertise)
					}
					continue
				}
				if !ok || e.value != want[name] {
					t.Errorf("env %s = %q (set: %v), want %q", name, e.value, ok, want[name])
					continue
				}
				for _, ref := range []string{"POD_NAME", "POD_NAMESPACE", "POD_IP", "HOST_IP"} {
					if r, ok := env[ref]; strings.Contains(e.value, "$("+ref+")") && (!ok || r.index > e.index) {
						t.Errorf("env %s refers to %s, not defined before it (not expanded)", name, ref)
					}
				}
			}

			// the config file leaves identity and address to the environment
			g, _ := renderedConfig(t, objs)["gossip"].(map[string]any)
			if g["node_name"] != nil || g["advertise"] != nil {
				t.Errorf("config gossip.node_name %v, advertise %v: the environment sets them per pod", g["node_name"], g["advertise"])
			}
			if got := g["listen"]; got != fmt.Sprintf("0.0.0.0:%d", tc.port) {
				t.Errorf("config gossip.listen = %v", got)
			}

			// host network: node ports, one pod per node
			hostNet := tc.advertise == "hostNetwork"
			if got := path(pod, "hostNetwork"); (got == true) != hostNet {
				t.Errorf("hostNetwork = %v, want %v", got, hostNet)
			}
			if got := path(pod, "dnsPolicy"); hostNet && got != "ClusterFirstWithHostNet" || !hostNet && got != nil {
				t.Errorf("dnsPolicy = %v (hostNetwork %v)", got, hostNet)
			}
			for _, p := range asList(path(pod, "containers", 0, "ports")) {
				hp := path(p, "hostPort")
				if hostNet && hp != path(p, "containerPort") || !hostNet && hp != nil {
					t.Errorf("port %v: hostPort %v (hostNetwork %v)", path(p, "name"), hp, hostNet)
				}
			}
			required := path(pod, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", 0)
			preferred := path(pod, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", 0, "podAffinityTerm")
			term := preferred
			if hostNet {
				term = required
				if preferred != nil {
					t.Errorf("hostNetwork: preferred anti-affinity %v, want required only", preferred)
				}
			} else if required != nil {
				t.Errorf("required anti-affinity %v without hostNetwork", required)
			}
			if path(term, "topologyKey") != "kubernetes.io/hostname" ||
				!reflect.DeepEqual(path(term, "labelSelector", "matchLabels"), path(sts, "spec", "selector", "matchLabels")) {
				t.Errorf("anti-affinity term %v: want hostname topology over the StatefulSet's pods", term)
			}

			// the per-pod LoadBalancer Services
			lb := tc.advertise == "loadBalancer"
			var names []string
			for i := range tc.replicas {
				name := fmt.Sprintf("%s-%d-gossip", fullname, i)
				names = append(names, name)
				if !lb {
					if hasObject(objs, "Service", name) {
						t.Errorf("Service %s in mode %s", name, tc.advertise)
					}
					continue
				}
				svc := find(t, objs, "Service", name)
				if got := path(svc, "spec", "type"); got != "LoadBalancer" {
					t.Errorf("%s type = %v", name, got)
				}
				sel := path(svc, "spec", "selector", "statefulset.kubernetes.io/pod-name")
				if sel != fmt.Sprintf("%s-%d", fullname, i) {
					t.Errorf("%s selects pod %v, want %s-%d", name, sel, fullname, i)
				}
				if got := path(svc, "spec", "publishNotReadyAddresses"); got != true {
					t.Errorf("%s publishNotReadyAddresses = %v: a follower is reached by gossip before it is ready", name, got)
				}
				var ports []string
				for _, p := range asList(path(svc, "spec", "ports")) {
					ports = append(ports, fmt.Sprintf("%v:%v->%v", path(p, "protocol"), path(p, "port"), path(p, "targetPort")))
				}
				if want := []string{fmt.Sprintf("UDP:%d->gossip-udp", tc.port), fmt.Sprintf("TCP:%d->gossip-tcp", tc.port)}; !slices.Equal(ports, want) {
					t.Errorf("%s ports = %v, want %v", name, ports, want)
				}
				wantIP := any(nil)
				if tc.lbIPs != nil {
					wantIP = tc.lbIPs[i]
					for k, w := range map[string]any{"loadBalancerClass": "example.com/lb", "externalTrafficPolicy": "Local"} {
						if got := path(svc, "spec", k); got != w {
							t.Errorf("%s %s = %v, want %v", name, k, got, w)
						}
					}
					if got := path(svc, "metadata", "annotations", "example.com/lb-type"); got != "external" {
						t.Errorf("%s annotation = %v", name, got)
					}
					if got := path(svc, "spec", "loadBalancerSourceRanges", 0); got != "198.51.100.0/24" {
						t.Errorf("%s loadBalancerSourceRanges = %v", name, got)
					}
				}
				if got := path(svc, "spec", "loadBalancerIP"); got != wantIP {
					t.Errorf("%s loadBalancerIP = %v, want %v", name, got, wantIP)
				}
			}
			if extra := fmt.Sprintf("%s-%d-gossip", fullname, tc.replicas); hasObject(objs, "Service", extra) {
				t.Errorf("Service %s beyond replicaCount %d", extra, tc.replicas)
			}

			// the Role: get on exactly those Services; the token only where needed
			roleName := fullname + "-gossip-advertise"
			if !lb {
				if hasObject(objs, "Role", roleName) || hasObject(objs, "RoleBinding", roleName) {
					t.Errorf("Role %s in mode %s", roleName, tc.advertise)
				}
			} else {
				wantRules := []rule{{Groups: "", Resources: "services", Names: strings.Join(names, ","), Verbs: "get"}}
				if got := rules(find(t, objs, "Role", roleName)); !reflect.DeepEqual(got, wantRules) {
					t.Errorf("Role %s rules:\n got %+v\nwant %+v", roleName, got, wantRules)
				}
				rb := find(t, objs, "RoleBinding", roleName)
				if path(rb, "roleRef", "name") != roleName || path(rb, "subjects", 0, "name") != fullname || path(rb, "subjects", 0, "namespace") != namespace {
					t.Errorf("RoleBinding %s: roleRef %v, subjects %v", roleName, path(rb, "roleRef"), path(rb, "subjects"))
				}
			}
			wantToken := tc.mode == "leader" || lb
			if got := path(pod, "automountServiceAccountToken"); got != wantToken {
				t.Errorf("pod automountServiceAccountToken = %v, want %v", got, wantToken)
			}
			if got := path(find(t, objs, "ServiceAccount", fullname), "automountServiceAccountToken"); got != wantToken {
				t.Errorf("ServiceAccount automountServiceAccountToken = %v, want %v", got, wantToken)
			}
			if tc.mode == "follower" {
				for _, o := range objs {
					if (o.kind() == "Role" || o.kind() == "RoleBinding" || strings.HasPrefix(o.kind(), "ClusterRole")) && o.name() != roleName {
						t.Errorf("follower has %s/%s: a follower gets no rights but reading its gossip Services", o.kind(), o.name())
					}
				}
			}
		})
	}

	t.Run("rbac.create false", func(t *testing.T) {
		_, objs := render(t, h, "follower", "--set", "gossip.advertise.mode=loadBalancer", "--set", "rbac.create=false")
		if hasObject(objs, "Role", fullname+"-gossip-advertise") {
			t.Errorf("Role rendered with rbac.create false")
		}
	})
}

// TestPersistence: the state file on a PersistentVolumeClaim per pod when
// persistence.enabled, an emptyDir otherwise.
func TestPersistence(t *testing.T) {
	h := newHelm(t)
	for _, tc := range []struct {
		name  string
		args  []string
		class any // nil: storageClassName left out
		size  string
		modes []any
	}{
		{"defaults", nil, nil, "64Mi", []any{"ReadWriteOnce"}},
		{"class and size", []string{"--set", "persistence.storageClassName=fast", "--set", "persistence.size=1Gi", "--set", "persistence.accessModes={ReadWriteOncePod}"}, "fast", "1Gi", []any{"ReadWriteOncePod"}},
		{"no class", []string{"--set", "persistence.storageClassName=-"}, "", "64Mi", []any{"ReadWriteOnce"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, objs := render(t, h, "follower", append([]string{"--set", "persistence.enabled=true"}, tc.args...)...)
			sts := find(t, objs, "StatefulSet", fullname)
			vcts := asList(path(sts, "spec", "volumeClaimTemplates"))
			if len(vcts) != 1 {
				t.Fatalf("volumeClaimTemplates = %v, want one", vcts)
			}
			vct := vcts[0]
			if got := path(vct, "metadata", "name"); got != "state" {
				t.Errorf("volumeClaimTemplate name = %v, want state", got)
			}
			spec, _ := path(vct, "spec").(map[string]any)
			if got, ok := spec["storageClassName"]; tc.class == nil && ok || tc.class != nil && got != tc.class {
				t.Errorf("storageClassName = %#v (set: %v), want %#v", got, ok, tc.class)
			}
			if got := path(spec, "resources", "requests", "storage"); got != tc.size {
				t.Errorf("storage request = %v, want %s", got, tc.size)
			}
			if got := path(spec, "accessModes"); !reflect.DeepEqual(got, any(tc.modes)) {
				t.Errorf("accessModes = %v, want %v", got, tc.modes)
			}
			// labels of a volumeClaimTemplate cannot change on an upgrade:
			// none that carries the chart or app version
			for k := range asMap(path(vct, "metadata", "labels")) {
				if k == "helm.sh/chart" || k == "app.kubernetes.io/version" {
					t.Errorf("volumeClaimTemplate label %s changes with every chart version", k)
				}
			}
			checkPod(t, sts, []string{"config", "tmp", "gossip-keys"})
			mounted := false
			for _, m := range asList(path(sts, "spec", "template", "spec", "containers", 0, "volumeMounts")) {
				if path(m, "name") == "state" {
					mounted = path(m, "mountPath") == "/var/lib/meridian"
				}
			}
			if !mounted {
				t.Errorf("the state claim is not mounted at /var/lib/meridian")
			}
			g, _ := renderedConfig(t, objs)["gossip"].(map[string]any)
			if got := g["state_file"]; got != "/var/lib/meridian/state.json" {
				t.Errorf("config gossip.state_file = %v, want it on the state volume", got)
			}
		})
	}
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
