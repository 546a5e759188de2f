package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
	"github.com/meridian-gslb/meridian/test/proctest"
)

// The Helm chart's topology with processes standing in for pods (issue
// 15): a leader (2 replicas, Lease election) and two followers (2
// replicas each), in the chart's loadBalancer mode. Each process gets the
// configuration and the environment the chart renders for its pod, its
// own loopback address as the pod IP, and that address as the external
// address of its per-pod gossip Service (set on a real apiserver). They
// converge and answer identically, keep answering with the active leader
// and one replica per follower site killed, and a follower restarted alone
// serves from its state file before it reaches anyone.
func TestChartPodsConverge(t *testing.T) {
	t.Parallel()
	watchdog(t, 7*time.Minute)
	k := startKube(t, 6*time.Minute, []string{"gslb"}, "gslb")
	dir := t.TempDir()
	keyFile := genKey(t, dir, "gossip.key")
	const ns = "meridian"
	k.kubectl(t, "gslb", "create", "namespace", ns)

	ips := map[string][]string{
		"east":  {"127.36.0.1", "127.36.0.2"},
		"west":  {"127.36.1.1", "127.36.1.2"},
		"south": {"127.36.2.1", "127.36.2.2"},
	}
	var all []string
	for _, site := range []string{"east", "west", "south"} {
		all = append(all, ips[site]...)
	}
	ports := distinctFreePorts(t, 3, all...)
	dnsPort, httpPort, gossipPort := ports[0], ports[1], ports[2]
	var leaderJoin []string
	for _, ip := range ips["east"] {
		leaderJoin = append(leaderJoin, hostPort(ip, gossipPort))
	}
	common := fmt.Sprintf(`replicaCount: 2
dns: {containerPort: %d}
http: {containerPort: %d}
gossip:
  enabled: true
  port: %d
  join: [%s]
  keySecret: {name: gossip-keys}
  advertise: {mode: loadBalancer}
`, dnsPort, httpPort, gossipPort, strings.Join(leaderJoin, ", "))
	leaderValues := common + `mode: leader
site: east
kubernetes:
  memberKubeconfig: {existingSecret: members}
  clusters: [{context: gslb, site: east}]
  policyContext: gslb
  leaderElection: {leaseName: meridian-ha}
config:
  log: {level: debug}
  gossip: {timing: local, push_pull_interval: 1s}
  zones:
    - name: ha.test.
      soa: {mname: ns1.ha.test., rname: hostmaster.ha.test., serial: 1, minimum: 60}
      nameservers: [{name: ns1.ha.test., addresses: [192.0.2.53]}]
  sites:
    - {name: east, location: {lat: 39.04, lon: -77.49}}
    - {name: west, location: {lat: 53.35, lon: -6.26}}
    - {name: south, location: {lat: 19.08, lon: 72.88}}
  services:
    - name: app.ha.test.
      policy: {strategy: roundrobin, ttl: 30}
      members:
        - {site: east, addresses: [192.0.2.1]}
        - {site: west, addresses: [198.51.100.1]}
        - {site: south, addresses: [203.0.113.1]}
`
	followerValues := func(site string) string {
		return common + fmt.Sprintf(`mode: follower
site: %s
config:
  log: {level: debug}
  gossip: {timing: local, push_pull_interval: 1s}
`, site)
	}
	charts := map[string]*renderedChart{
		"east":  renderChart(t, dir, "east", ns, leaderValues),
		"west":  renderChart(t, dir, "west", ns, followerValues("west")),
		"south": renderChart(t, dir, "south", ns, followerValues("south")),
	}

	// The per-pod gossip Services, as the chart renders them, on the
	// apiserver; a cloud would then give each an external address.
	for site, c := range charts {
		if len(c.gossipServices) != 2 {
			t.Fatalf("%s: the chart renders %d per-pod gossip Services %v, want one per replica", site, len(c.gossipServices), c.gossipServices)
		}
		k.apply(t, "gslb", c.gossipServiceYAML)
	}
	setLB := func(site string, i int) {
		k.kubectl(t, "gslb", "-n", ns, "patch", "service", charts[site].gossipServices[i], "--subresource=status", "--type=merge", "-p",
			fmt.Sprintf(`{"status":{"loadBalancer":{"ingress":[{"ip":%q}]}}}`, ips[site][i]))
	}

	env := envFiles{kubeconfig: k.Kubeconfig, keyFile: keyFile}
	pods := map[string][]*chartPod{}
	for _, site := range []string{"east", "west", "south"} {
		for i, ip := range ips[site] {
			if site == "south" && i == 1 {
				continue // started below, before its Service has an address
			}
			setLB(site, i)
			pods[site] = append(pods[site], charts[site].pod(t, dir, i, ip, env))
		}
	}
	// A pod whose Service has no external address yet waits for it (and
	// serves nothing) rather than advertising an address nobody can reach.
	waiting := charts["south"].launch(t, dir, 1, ips["south"][1], env)
	if _, err := waiting.proc.WaitLine(startTimeout, "waiting for the advertised address"); err != nil {
		t.Fatalf("south-1 did not wait for its Service's address: %v", err)
	}
	setLB("south", 1)
	pods["south"] = append(pods["south"], waiting.ready(t))

	var nodes []*meridian
	for _, site := range []string{"east", "west", "south"} {
		for _, p := range pods[site] {
			nodes = append(nodes, p.m)
		}
	}
	want := []string{"192.0.2.1", "198.51.100.1", "203.0.113.1"}
	waitA(t, nodes, "every pod from the leader's state", "app.ha.test", want...)
	for _, site := range []string{"east", "west", "south"} {
		for i, p := range pods[site] {
			self := memberAddr(t, p.m, charts[site].podName(i))
			if wantAddr := hostPort(ips[site][i], gossipPort); self != wantAddr {
				t.Errorf("%s advertises %s, want its Service's address %s", charts[site].podName(i), self, wantAddr)
			}
		}
	}

	// Kill the leader replica holding the Lease and one replica of each
	// follower site: the rest keep answering, the standby takes the Lease
	// and its next publication reaches the surviving followers.
	active, standby := pods["east"][0], pods["east"][1]
	waitKube(t, active.m, "a leader replica leads", func(s kubeState) bool { return s.Leading || kubeStatus(t, standby.m).Leading })
	if !kubeStatus(t, active.m).Leading {
		active, standby = standby, active
	}
	// Kill's error is the SIGKILL's exit status: a crash, as wanted.
	_ = active.m.Kill()
	_ = pods["west"][0].m.Kill()
	_ = pods["south"][0].m.Kill()
	rest := []*meridian{standby.m, pods["west"][1].m, pods["south"][1].m}
	holdA(t, rest, "after the kills", "app.ha.test", 2*time.Second, want...)
	waitKube(t, standby.m, "the standby takes the Lease", func(s kubeState) bool { return s.Leading })
	rewriteConfig(t, standby.config, "ttl: 30", "ttl: 40")
	for _, m := range rest {
		waitAnswer(t, m, "app.ha.test", "the new leader's publication at "+m.HTTP, func(a answer) bool { return exactly(want...)(a) && a.ttl == 40 })
	}

	// Everything down; a follower replica restarted alone serves its
	// state file at once, with nobody to join.
	for _, m := range rest {
		_ = m.Kill()
	}
	west := pods["west"][1]
	restarted := charts["west"].pod(t, dir, 1, ips["west"][1], env)
	if restarted.state != west.state {
		t.Fatalf("the restarted pod's state file %s is not the first run's %s", restarted.state, west.state)
	}
	waitAnswer(t, restarted.m, "app.ha.test", "the state file, before joining", func(a answer) bool { return exactly(want...)(a) && a.ttl == 40 })
	if s := stateOf(t, restarted.m); s.Joined {
		t.Errorf("the restarted follower says it joined, with every peer down: %+v", s)
	}
}

// renderedChart is what `helm template` renders for one site: the
// configuration file, the StatefulSet's container environment and the
// per-pod gossip Services.
type renderedChart struct {
	release, fullname string
	config            map[string]any
	env               []envVar
	gossipServices    []string // names, by ordinal
	gossipServiceYAML string
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

// renderChart runs helm template for release with values.
func renderChart(t *testing.T, dir, release, ns, values string) *renderedChart {
	t.Helper()
	tl := k8stest.RequireTools(t)
	vf := writeFile(t, dir, release+"-values.yaml", values)
	cmd := exec.Command(tl.Helm, "template", release, filepath.Join(repoRoot, "deploy", "helm", "meridian"), "--namespace", ns, "-f", vf)
	cmd.Env = k8stest.HelmEnv(t)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template %s: %v\n%s", release, err, errOut.String())
	}
	c := &renderedChart{release: release}
	dec := yaml.NewDecoder(&out)
	for {
		var obj struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				Type     string `yaml:"type"`
				Selector map[string]any
				Template struct {
					Spec struct {
						Containers []struct {
							Name string   `yaml:"name"`
							Env  []envVar `yaml:"env"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		if node.Kind == 0 {
			continue
		}
		must(t, node.Decode(&obj))
		switch {
		case obj.Kind == "ConfigMap" && obj.Data["meridian.yaml"] != "":
			must(t, yaml.Unmarshal([]byte(obj.Data["meridian.yaml"]), &c.config))
		case obj.Kind == "StatefulSet":
			c.fullname = obj.Metadata.Name
			c.env = obj.Spec.Template.Spec.Containers[0].Env
		case obj.Kind == "Service" && obj.Spec.Type == "LoadBalancer" && strings.HasSuffix(obj.Metadata.Name, "-gossip"):
			c.gossipServices = append(c.gossipServices, obj.Metadata.Name)
			b, err := yaml.Marshal(&node)
			must(t, err)
			c.gossipServiceYAML += "---\n" + string(b)
		}
	}
	if c.config == nil || c.fullname == "" {
		t.Fatalf("helm template %s: no ConfigMap with meridian.yaml or no StatefulSet:\n%s", release, out.String())
	}
	// by ordinal: <fullname>-<i>-gossip
	for i, name := range c.gossipServices {
		for j, other := range c.gossipServices {
			if other == fmt.Sprintf("%s-%d-gossip", c.fullname, i) {
				c.gossipServices[i], c.gossipServices[j] = other, name
			}
		}
	}
	return c
}

func (c *renderedChart) podName(i int) string { return fmt.Sprintf("%s-%d", c.fullname, i) }

// envFiles are the files a pod gets from its Secrets.
type envFiles struct{ kubeconfig, keyFile string }

// chartPod is one process standing in for a pod.
type chartPod struct {
	proc      *proctest.Proc
	m         *meridian
	config    string // its configuration file (the ConfigMap's, paths local)
	state     string // its state file (the volume's)
	readyFile string
	ip        string
}

// pod starts pod i and waits until it serves.
func (c *renderedChart) pod(t *testing.T, dir string, i int, ip string, files envFiles) *chartPod {
	t.Helper()
	return c.launch(t, dir, i, ip, files).ready(t)
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// launch starts pod i with the chart's configuration and environment:
// the mounted files at local paths, the downward API's fields from the
// stand-in pod (name, namespace, ip as pod and host IP), $(VAR)
// references expanded as the kubelet does, and the listen addresses on
// ip (a pod's own network namespace would give it every address).
func (c *renderedChart) launch(t *testing.T, dir string, i int, ip string, files envFiles) *chartPod {
	t.Helper()
	name := c.podName(i)
	podDir := filepath.Join(dir, name)
	must(t, os.MkdirAll(podDir, 0o755))
	cfg := deepCopyMap(c.config)
	g, _ := cfg["gossip"].(map[string]any)
	if g == nil {
		t.Fatalf("%s: the rendered config has no gossip section", name)
	}
	if _, ok := g["key_file"]; ok {
		g["key_file"] = files.keyFile
	}
	state := filepath.Join(podDir, "state.json")
	if g["state_file"] == nil {
		t.Fatalf("%s: the rendered config keeps no state file", name)
	}
	g["state_file"] = state
	if kc, ok := cfg["kubernetes"].(map[string]any); ok {
		kc["kubeconfig"] = files.kubeconfig
	}
	b, err := yaml.Marshal(cfg)
	must(t, err)
	config := writeFile(t, podDir, "meridian.yaml", string(b))

	vars := map[string]string{}
	var env []string
	for _, e := range c.env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				v = name
			case "metadata.namespace":
				v = "meridian"
			case "status.podIP", "status.hostIP":
				v = ip
			default:
				t.Fatalf("%s: env %s from an unexpected field %s", name, e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
		}
		v = envRef.ReplaceAllStringFunc(v, func(ref string) string {
			if x, ok := vars[ref[2:len(ref)-1]]; ok {
				return x
			}
			return ref
		})
		vars[e.Name] = v
		env = append(env, e.Name+"="+v)
	}
	if vars["MERIDIAN_GOSSIP_NODE_NAME"] != name {
		t.Fatalf("%s: the chart gives the pod the gossip node name %q, want its pod name", name, vars["MERIDIAN_GOSSIP_NODE_NAME"])
	}
	dnsPort, httpPort, gossipPort := listenPort(t, cfg, "dns"), listenPort(t, cfg, "http"), listenPort(t, cfg, "gossip")
	env = append(env,
		"MERIDIAN_DNS_LISTEN="+hostPort(ip, dnsPort),
		"MERIDIAN_HTTP_LISTEN="+hostPort(ip, httpPort),
		"MERIDIAN_GOSSIP_LISTEN="+hostPort(ip, gossipPort),
		// in-cluster credentials, in a pod
		"KUBECONFIG="+files.kubeconfig,
	)
	ready := filepath.Join(podDir, "ready.json")
	_ = os.Remove(ready)
	cmd := exec.Command(meridianBin, "serve", "--config", config, "--ready-file", ready)
	cmd.Env = proctest.MeridianEnv(env...)
	return &chartPod{proc: proctest.Start(t, name, cmd), config: config, state: state, readyFile: ready, ip: ip}
}

// ready waits until the pod serves.
func (p *chartPod) ready(t *testing.T) *chartPod {
	t.Helper()
	r, err := proctest.WaitServeReady(p.proc, p.readyFile, startTimeout)
	if err != nil {
		t.Fatal(err)
	}
	p.m = &meridian{Proc: p.proc, DNS: r.DNSUDP, HTTP: "http://" + r.HTTP}
	p.m.waitReady(t, startTimeout)
	return p
}

// listenPort is the port of section's listen address (dns.listen's first).
func listenPort(t *testing.T, cfg map[string]any, section string) int {
	t.Helper()
	s, _ := cfg[section].(map[string]any)
	var addr string
	switch l := s["listen"].(type) {
	case string:
		addr = l
	case []any:
		if len(l) > 0 {
			addr, _ = l[0].(string)
		}
	}
	i := strings.LastIndexByte(addr, ':')
	var port int
	if _, err := fmt.Sscan(addr[i+1:], &port); i < 0 || err != nil {
		t.Fatalf("%s.listen %q has no port", section, addr)
	}
	return port
}

func deepCopyMap(m map[string]any) map[string]any {
	b, _ := yaml.Marshal(m)
	var out map[string]any
	_ = yaml.Unmarshal(b, &out)
	return out
}

// distinctFreePorts finds n different ports free on every ip.
func distinctFreePorts(t *testing.T, n int, ips ...string) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		p := freePortOn(t, ips...)
		dup := false
		for _, q := range ports {
			dup = dup || q == p
		}
		if !dup {
			ports = append(ports, p)
		}
	}
	return ports
}

// gossipStatus is the part of /api/v1/sites this test reads.
type gossipStatus struct {
	Node    string `json:"node"`
	Joined  bool   `json:"joined"`
	Members []struct {
		Name, Addr, Status string
	} `json:"members"`
}

func stateOf(t *testing.T, m *meridian) gossipStatus {
	t.Helper()
	_, body := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/sites")
	var s gossipStatus
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/api/v1/sites: %v\n%s", err, body)
	}
	return s
}

// memberAddr is the address m's gossip member advertises (as m itself
// lists it).
func memberAddr(t *testing.T, m *meridian, name string) string {
	t.Helper()
	for _, mem := range stateOf(t, m).Members {
		if mem.Name == name {
			return mem.Addr
		}
	}
	t.Fatalf("%s does not list itself (%s) among the members", m.HTTP, name)
	return ""
}
