package k8stest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Environment variables read by this package.
const (
	// EnvBin names a directory holding kube-apiserver, kubectl and etcd; when
	// set, scripts/k8s-tools.sh is not run for them.
	EnvBin = "MERIDIAN_K8S_BIN"
	// EnvHelm names the helm binary (default: the one `scripts/k8s-tools.sh
	// helm` builds from test/k8s/tools/helm, or BinDir/helm when
	// MERIDIAN_K8S_BIN names a directory that holds one).
	EnvHelm = "MERIDIAN_HELM"
	// EnvGatewayCRDs names the Gateway API CRD directory to install
	// (default: config/crd/standard of the pinned sigs.k8s.io/gateway-api).
	EnvGatewayCRDs = "MERIDIAN_GATEWAY_CRDS"
	// EnvSkip=1 skips the Kubernetes tests, except when CI is set.
	EnvSkip = "MERIDIAN_SKIP_K8S"
)

// Tools are the programs and files the harness runs.
type Tools struct {
	BinDir      string // kube-apiserver, kubectl, etcd
	Helm        string // the helm binary (a file, not a directory)
	GatewayCRDs string // Gateway API standard channel CRDs (YAML files)
}

// Path returns the path of one program in BinDir.
func (tl Tools) Path(name string) string { return filepath.Join(tl.BinDir, name) }

var (
	toolsOnce sync.Once
	toolsVal  Tools
	toolsErr  error
)

// FindTools locates the binaries and CRDs: $MERIDIAN_K8S_BIN, $MERIDIAN_HELM
// and $MERIDIAN_GATEWAY_CRDS when set, otherwise `scripts/k8s-tools.sh bin`,
// `helm` and `crds`; bin builds the binaries (helm too) on its first run (5-6
// minutes) and answers at once from its cache after that. The script is found by walking up from the
// working directory to the repository root. The result is computed once per
// process; ctx bounds that first computation.
func FindTools(ctx context.Context) (Tools, error) {
	toolsOnce.Do(func() { toolsVal, toolsErr = findTools(ctx) })
	return toolsVal, toolsErr
}

func findTools(ctx context.Context) (Tools, error) {
	tl := Tools{BinDir: os.Getenv(EnvBin), Helm: os.Getenv(EnvHelm), GatewayCRDs: os.Getenv(EnvGatewayCRDs)}
	if tl.Helm == "" && tl.BinDir != "" && isExecutable(filepath.Join(tl.BinDir, "helm")) {
		tl.Helm = filepath.Join(tl.BinDir, "helm")
	}
	if tl.BinDir == "" || tl.Helm == "" || tl.GatewayCRDs == "" {
		script, err := findScript()
		if err != nil {
			return Tools{}, err
		}
		if tl.BinDir == "" {
			if tl.BinDir, err = runScript(ctx, script, "bin"); err != nil {
				return Tools{}, err
			}
		}
		if tl.Helm == "" {
			if tl.Helm, err = runScript(ctx, script, "helm"); err != nil {
				return Tools{}, err
			}
		}
		if tl.GatewayCRDs == "" {
			if tl.GatewayCRDs, err = runScript(ctx, script, "crds"); err != nil {
				return Tools{}, err
			}
		}
	}
	for _, b := range []string{"kube-apiserver", "kubectl", "etcd"} {
		if !isExecutable(tl.Path(b)) {
			return Tools{}, fmt.Errorf("%s is not an executable (bin dir %q)", tl.Path(b), tl.BinDir)
		}
	}
	if !isExecutable(tl.Helm) {
		return Tools{}, fmt.Errorf("helm %q is not an executable", tl.Helm)
	}
	if st, err := os.Stat(tl.GatewayCRDs); err != nil || !st.IsDir() {
		return Tools{}, fmt.Errorf("the Gateway API CRD directory %q was not found", tl.GatewayCRDs)
	}
	return tl, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// runScript runs `k8s-tools.sh sub` and returns the one line it prints.
func runScript(ctx context.Context, script, sub string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script, sub)
	cmd.Stdout = &stdout
	// progress (a cold build takes minutes) goes to the test's stderr too
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s %s did not finish in time (%v): build the binaries once beforehand with `scripts/k8s-tools.sh` (about 5-6 minutes)", script, sub, ctx.Err())
		}
		return "", fmt.Errorf("%s %s: %v\n%s", script, sub, err, strings.TrimSpace(stderr.String()))
	}
	out := strings.TrimSpace(stdout.String())
	if out == "" || strings.Contains(out, "\n") {
		return "", fmt.Errorf("%s %s printed %q, want one path", script, sub, out)
	}
	return out, nil
}

// findScript walks up from the working directory to the directory that
// holds both go.mod and scripts/k8s-tools.sh.
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "k8s-tools.sh")
		if _, err := os.Stat(p); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/k8s-tools.sh not found above the working directory; set " + EnvBin + ", " + EnvHelm + " and " + EnvGatewayCRDs)
		}
		dir = parent
	}
}

// RequireTools returns the tools or ends the test: it skips when
// MERIDIAN_SKIP_K8S=1 (unless CI is set), and fails with the reason when the
// binaries cannot be found or built (under CI and locally alike: they need
// only Go and the module proxy).
func RequireTools(t testing.TB) Tools {
	t.Helper()
	ci := proctest.CI()
	if os.Getenv(EnvSkip) == "1" {
		if !ci {
			t.Skip(EnvSkip + "=1: skipping the tests against real kube-apiservers")
		}
		t.Logf("%s=1 is ignored because CI is set: CI never skips the Kubernetes tests", EnvSkip)
	}
	ctx := context.Background()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok { // *testing.T
		if dl, ok := d.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
			defer cancel()
		}
	}
	tl, err := FindTools(ctx)
	if err != nil {
		if ci {
			t.Fatalf("k8stest: the Kubernetes test binaries are not available [CI is set: this fails the test]:\n%v", err)
		}
		t.Fatalf("k8stest: the Kubernetes test binaries are not available:\n%v\n(set %s=1 to skip these tests locally)", err, EnvSkip)
	}
	return tl
}

// HelmEnv is the environment to run helm in from a test: the process's
// own without KUBECONFIG and HELM_*, with helm's cache, config and data
// directories in a temporary directory and a kubeconfig that does not
// exist, so that helm neither reads nor writes anything of the user's.
func HelmEnv(t testing.TB) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "KUBECONFIG" || strings.HasPrefix(k, "HELM_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
}
