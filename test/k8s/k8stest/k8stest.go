// Package k8stest runs real Kubernetes API servers for tests: one etcd and
// one kube-apiserver per member cluster, each cluster on its own loopback
// address (127.0.0.11, 127.0.0.12, ...) with its own etcd prefix, CA, serving
// certificate, service-account keys and admin token, and one kubeconfig with
// a context per cluster: exactly what a Meridian user gives the Kubernetes
// leader.
//
// There is no kubelet, scheduler or controller-manager: nothing runs pods or
// fills EndpointSlices or load-balancer status. Tests write Ingress, Service
// and Gateway status (kubectl patch --subresource=status, or client-go
// UpdateStatus) and EndpointSlices themselves, as the controllers would.
//
// The binaries are built once per pinned version by scripts/k8s-tools.sh
// (see FindTools). The package uses only the standard library, so the main
// module needs no Kubernetes dependency to use it.
//
//	env := k8stest.Start(t, k8stest.Options{Clusters: []string{"east", "west"}})
//	if err := env.InstallGatewayAPICRDs(ctx); err != nil { t.Fatal(err) }
//	out, err := env.Kubectl(ctx, "east", "get", "ingress", "-A")
//	// give env.Kubeconfig to the code under test
package k8stest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Options configure Start. The zero value gives three clusters named
// cluster-1, cluster-2 and cluster-3 with AlwaysAllow authorization.
type Options struct {
	// Clusters names the member clusters, in order: the i-th listens on
	// 127.0.0.(11+i). A name is a kubeconfig context, cluster and user
	// name and the etcd prefix "/NAME"; it must be a DNS label.
	Clusters []string
	// RBAC runs the apiservers with --authorization-mode=RBAC instead of
	// AlwaysAllow. The admin token (group system:masters) may still do
	// everything; use a ServiceAccount token and WriteKubeconfig to test a
	// restricted client.
	RBAC bool
	// APIServerArgs are appended to every kube-apiserver command line.
	APIServerArgs []string
	// ReadyTimeout bounds each wait for /readyz (default 90 s).
	ReadyTimeout time.Duration
	// LogLines is how many last lines of each process's log a failed test
	// prints (default 80; negative: the whole log).
	LogLines int
}

// Cluster is one member cluster: one kube-apiserver.
type Cluster struct {
	Name  string // context, cluster and user name; etcd prefix "/"+Name
	Host  string // loopback address, e.g. 127.0.0.11
	Port  int    // secure port, chosen free at Start and kept across restarts
	URL   string // https://Host:Port
	Token string // bearer token of user "admin" in group system:masters
	CAPEM []byte // the CA that signed the serving certificate
	// Kubeconfig is a kubeconfig file holding this cluster only.
	Kubeconfig string
	// Log is the kube-apiserver's log file (all its runs, appended).
	Log string

	files *clusterFiles
	proc  *proc // nil while stopped
}

// Env is one etcd and the kube-apiservers of the member clusters.
type Env struct {
	Dir        string // the test's temporary directory: certificates, logs, etcd data
	Kubeconfig string // one context per cluster, current context the first
	Tools      Tools
	EtcdURL    string // http://127.0.0.1:PORT, shared by all clusters
	EtcdLog    string

	t        testing.TB
	opts     Options
	clusters []*Cluster

	mu      sync.Mutex
	etcd    *proc
	stopped bool
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Start builds or finds the binaries (RequireTools: skips when
// MERIDIAN_SKIP_K8S=1 outside CI), starts etcd and one kube-apiserver per
// cluster, waits until every apiserver's /readyz answers 200, and writes the
// kubeconfig. Everything is stopped when the test ends (apiservers first,
// then etcd); if the test failed, the tail of every log is printed.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if len(opts.Clusters) == 0 {
		opts.Clusters = []string{"cluster-1", "cluster-2", "cluster-3"}
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	if opts.LogLines == 0 {
		opts.LogLines = 80
	}
	if len(opts.Clusters) > 200 {
		t.Fatalf("k8stest: %d clusters: at most 200", len(opts.Clusters))
	}
	seen := map[string]bool{}
	for _, n := range opts.Clusters {
		if !labelRE.MatchString(n) || seen[n] {
			t.Fatalf("k8stest: cluster name %q: want distinct DNS labels (lower-case letters, digits, '-')", n)
		}
		seen[n] = true
	}
	tools := RequireTools(t)

	e := &Env{Dir: t.TempDir(), Tools: tools, t: t, opts: opts}
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	e.EtcdLog = filepath.Join(e.Dir, "etcd.log")
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() {
			e.dumpLogs()
		}
	})

	if err := e.startEtcd(); err != nil {
		t.Fatalf("k8stest: %v", err)
	}

	// credentials in parallel: RSA key generation is the slow part
	e.clusters = make([]*Cluster, len(opts.Clusters))
	errs := make([]error, len(opts.Clusters))
	var wg sync.WaitGroup
	for i, name := range opts.Clusters {
		host := fmt.Sprintf("127.0.0.%d", 11+i)
		c := &Cluster{Name: name, Host: host, Log: filepath.Join(e.Dir, "apiserver-"+name+".log")}
		e.clusters[i] = c
		wg.Go(func() {
			ips := []net.IP{net.ParseIP(host), net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
			c.files, errs[i] = writeClusterFiles(filepath.Join(e.Dir, name), name, ips)
			if errs[i] == nil {
				c.Token, c.CAPEM = c.files.token, c.files.caPEM
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("k8stest: credentials: %v", err)
	}

	// the apiservers start together; a port taken between choosing it
	// and binding it is chosen again
	for i, c := range e.clusters {
		wg.Go(func() { errs[i] = e.firstStart(c) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("k8stest: %v", err)
	}

	for _, c := range e.clusters {
		c.Kubeconfig = filepath.Join(e.Dir, c.Name, "kubeconfig")
		if err := writeKubeconfig(c.Kubeconfig, []*Cluster{c}, nil); err != nil {
			t.Fatalf("k8stest: %v", err)
		}
	}
	if err := e.WriteKubeconfig(e.Kubeconfig, nil); err != nil {
		t.Fatalf("k8stest: %v", err)
	}
	return e
}

// Clusters returns the member clusters in the order of Options.Clusters.
func (e *Env) Clusters() []*Cluster { return append([]*Cluster(nil), e.clusters...) }

// Cluster returns the named cluster, or nil.
func (e *Env) Cluster(name string) *Cluster {
	for _, c := range e.clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (e *Env) cluster(name string) (*Cluster, error) {
	if c := e.Cluster(name); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("k8stest: no cluster %q (have %s)", name, strings.Join(e.opts.Clusters, ", "))
}

// WriteKubeconfig writes a kubeconfig with one context per cluster to path.
// tokens, by cluster name, replace the admin token (for example with a
// ServiceAccount's token from `kubectl create token`, to run the code under
// test with the rights its chart grants); a cluster absent from a non-nil
// tokens map is left out.
func (e *Env) WriteKubeconfig(path string, tokens map[string]string) error {
	return writeKubeconfig(path, e.clusters, tokens)
}

func writeKubeconfig(path string, clusters []*Cluster, tokens map[string]string) error {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n")
	var use []*Cluster
	for _, c := range clusters {
		if tokens == nil {
			use = append(use, c)
		} else if _, ok := tokens[c.Name]; ok {
			use = append(use, c)
		}
	}
	if len(use) == 0 {
		return fmt.Errorf("kubeconfig %s: no clusters", path)
	}
	for _, c := range use {
		fmt.Fprintf(&b, "- name: %q\n  cluster:\n    server: %q\n    certificate-authority-data: %q\n",
			c.Name, c.URL, base64.StdEncoding.EncodeToString(c.CAPEM))
	}
	b.WriteString("users:\n")
	for _, c := range use {
		tok := c.Token
		if tokens != nil {
			tok = tokens[c.Name]
		}
		fmt.Fprintf(&b, "- name: %q\n  user:\n    token: %q\n", c.Name+"-user", tok)
	}
	b.WriteString("contexts:\n")
	for _, c := range use {
		fmt.Fprintf(&b, "- name: %q\n  context:\n    cluster: %q\n    user: %q\n", c.Name, c.Name, c.Name+"-user")
	}
	fmt.Fprintf(&b, "current-context: %q\npreferences: {}\n", use[0].Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// HTTPClient returns a client that trusts the cluster's CA and sends its
// admin token.
func (c *Cluster) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAPEM)
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &bearer{token: c.Token, rt: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		}},
	}
}

type bearer struct {
	token string
	rt    http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}

// Running reports whether the cluster's apiserver process is running.
func (e *Env) Running(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.Cluster(name)
	return c != nil && c.proc != nil && !c.proc.Exited()
}

// StopCluster stops one cluster's apiserver (SIGTERM, SIGKILL after 15 s)
// and waits for it to exit. Its address stops answering; its objects stay in
// etcd under its prefix for StartCluster.
func (e *Env) StopCluster(name string) error { return e.stopCluster(name, syscall.SIGTERM) }

// KillCluster is StopCluster with SIGKILL: the apiserver dies at once, with
// no graceful shutdown, as in a crash.
func (e *Env) KillCluster(name string) error { return e.stopCluster(name, syscall.SIGKILL) }

func (e *Env) stopCluster(name string, sig syscall.Signal) error {
	c, err := e.cluster(name)
	if err != nil {
		return err
	}
	e.mu.Lock()
	p := c.proc
	c.proc = nil
	e.mu.Unlock()
	if p == nil {
		return fmt.Errorf("k8stest: cluster %s is not running", name)
	}
	p.stop(sig, 15*time.Second)
	return nil
}

// StartCluster starts a stopped cluster's apiserver again on the same
// address and port with the same etcd prefix and credentials (its objects
// are still there), and waits for /readyz.
func (e *Env) StartCluster(name string) error {
	c, err := e.cluster(name)
	if err != nil {
		return err
	}
	e.mu.Lock()
	switch {
	case e.stopped:
		e.mu.Unlock()
		return errors.New("k8stest: the environment is stopped")
	case c.proc != nil:
		e.mu.Unlock()
		return fmt.Errorf("k8stest: cluster %s is already running", name)
	}
	e.mu.Unlock()
	return e.startAPIServer(c)
}

// Stop stops every apiserver (in parallel), then etcd: an apiserver whose
// etcd vanished at the same moment can hang on SIGTERM. Start registers Stop
// with t.Cleanup; calling it earlier is fine, and calling it twice too.
func (e *Env) Stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	var procs []*proc
	for _, c := range e.clusters {
		if c.proc != nil {
			procs = append(procs, c.proc)
			c.proc = nil
		}
	}
	etcd := e.etcd
	e.etcd = nil
	e.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { p.stop(syscall.SIGTERM, 15*time.Second) })
	}
	wg.Wait()
	if etcd != nil {
		etcd.stop(syscall.SIGTERM, 5*time.Second)
	}
}

func (e *Env) dumpLogs() {
	n := e.opts.LogLines
	e.t.Logf("k8stest: etcd log %s:\n%s", e.EtcdLog, tail(e.EtcdLog, n))
	for _, c := range e.clusters {
		e.t.Logf("k8stest: kube-apiserver %s (%s) log %s:\n%s", c.Name, c.URL, c.Log, tail(c.Log, n))
	}
}

// startEtcd starts the one etcd all clusters share, on free loopback ports,
// and waits for /health.
//
// Ports: etcd and kube-apiserver cannot listen on port 0 and say where they
// bound. etcd must be given the URLs it advertises to its clients and peers
// before it starts, and kube-apiserver reads --secure-port=0 as "serve no
// HTTPS". So the ports are chosen free (proctest.PortFreeOn) just before
// the start, and chosen again when the log says another process took one
// meanwhile (portTaken).
func (e *Env) startEtcd() error {
	var lastErr error
	for range 3 {
		client, err := proctest.PortFreeOn("127.0.0.1")
		if err != nil {
			return err
		}
		peer, err := proctest.PortFreeOn("127.0.0.1")
		if err != nil {
			return err
		}
		clientURL := "http://127.0.0.1:" + strconv.Itoa(client)
		peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
		p, err := startProc("etcd", e.EtcdLog, []string{
			e.Tools.Path("etcd"),
			"--name=default",
			"--data-dir=" + filepath.Join(e.Dir, "etcd-data"),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=default=" + peerURL,
			"--unsafe-no-fsync",
		})
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.etcd = p
		e.mu.Unlock()
		e.EtcdURL = clientURL
		lastErr = waitHTTP(p, 30*time.Second, func(ctx context.Context) error {
			return getOK(ctx, http.DefaultClient, clientURL+"/health", `"health":"true"`)
		})
		if lastErr == nil {
			return nil
		}
		e.mu.Lock()
		e.etcd = nil
		e.mu.Unlock()
		p.stop(syscall.SIGKILL, 0)
		if !portTaken(e.EtcdLog) {
			break
		}
	}
	return fmt.Errorf("etcd did not start: %v\n%s", lastErr, tail(e.EtcdLog, 30))
}

// firstStart chooses the cluster's port and starts its apiserver, choosing
// again (up to 3 times) if another process took the port meanwhile.
func (e *Env) firstStart(c *Cluster) error {
	var err error
	for range 3 {
		if c.Port, err = proctest.PortFreeOn(c.Host); err != nil {
			return err
		}
		c.URL = "https://" + net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
		if err = e.startAPIServer(c); err == nil || !portTaken(c.Log) {
			return err
		}
	}
	return err
}

func (e *Env) apiserverArgs(c *Cluster) []string {
	authz := "AlwaysAllow"
	if e.opts.RBAC {
		authz = "RBAC"
	}
	f := c.files
	args := []string{
		e.Tools.Path("kube-apiserver"),
		"--etcd-servers=" + e.EtcdURL,
		"--etcd-prefix=/" + c.Name,
		"--bind-address=" + c.Host,
		"--advertise-address=" + c.Host,
		"--secure-port=" + strconv.Itoa(c.Port),
		"--cert-dir=" + filepath.Join(e.Dir, c.Name, "certs"),
		"--tls-cert-file=" + f.servCert,
		"--tls-private-key-file=" + f.servKey,
		"--client-ca-file=" + f.caCert,
		"--token-auth-file=" + f.tokenFile,
		// a client that sends no credentials is refused, as in a real cluster
		"--anonymous-auth=false",
		"--authorization-mode=" + authz,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f.saPub,
		"--service-account-signing-key-file=" + f.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		// no kube-controller-manager or other apiserver: nobody else
		// maintains the kubernetes Service's endpoints
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	return append(args, e.opts.APIServerArgs...)
}

// startAPIServer starts c's apiserver and waits for /readyz.
func (e *Env) startAPIServer(c *Cluster) error {
	p, err := startProc("kube-apiserver "+c.Name, c.Log, e.apiserverArgs(c))
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		p.stop(syscall.SIGKILL, 0)
		return errors.New("k8stest: the environment is stopped")
	}
	c.proc = p
	e.mu.Unlock()
	hc := c.HTTPClient()
	err = waitHTTP(p, e.opts.ReadyTimeout, func(ctx context.Context) error {
		return getOK(ctx, hc, c.URL+"/readyz", "ok")
	})
	if err != nil {
		e.mu.Lock()
		if c.proc == p {
			c.proc = nil
		}
		e.mu.Unlock()
		p.stop(syscall.SIGKILL, 0)
		return fmt.Errorf("kube-apiserver %s (%s) not ready: %v\n%s", c.Name, c.URL, err, tail(c.Log, 30))
	}
	return nil
}

// waitHTTP polls check every 100 ms until it succeeds, p exits or timeout
// passes.
func waitHTTP(p *proc, timeout time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last = check(ctx)
		cancel()
		if last == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited: %v (last check: %v)", p.Name, p.Err(), last)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v", p.Name, timeout, last)
		}
		select {
		case <-p.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func getOK(ctx context.Context, hc *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %s: %.300s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// portTaken reports whether the last run in a log failed to bind its port.
func portTaken(log string) bool {
	b, err := os.ReadFile(log)
	if err != nil {
		return false
	}
	if i := strings.LastIndex(string(b), "k8stest: starting "); i >= 0 {
		b = b[i:]
	}
	return strings.Contains(string(b), "address already in use")
}
