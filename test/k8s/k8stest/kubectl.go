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
	"time"
)

// Kubectl runs `kubectl --context CLUSTER ARGS...` against the Env's
// kubeconfig and returns its standard output. The error carries the command
// line and kubectl's standard error. kubectl gets a discovery cache of its
// own in Dir and ignores the user's kubeconfig and kuberc.
func (e *Env) Kubectl(ctx context.Context, cluster string, args ...string) (string, error) {
	return e.KubectlStdin(ctx, cluster, nil, args...)
}

// KubectlStdin is Kubectl with stdin (for `-f -`).
func (e *Env) KubectlStdin(ctx context.Context, cluster string, stdin io.Reader, args ...string) (string, error) {
	if _, err := e.cluster(cluster); err != nil {
		return "", err
	}
	cmd := e.KubectlCmd(ctx, e.Kubeconfig, cluster, args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl --context=%s %s: %v\n%s", cluster, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// KubectlCmd prepares `kubectl --kubeconfig=KUBECONFIG --context=KUBECONTEXT
// ARGS...` for the caller to run, for example with a kubeconfig from
// WriteKubeconfig that holds a ServiceAccount's token. Like Kubectl, it
// uses a discovery cache in Dir and ignores the user's kubeconfig and kuberc.
// ctx bounds the command (kubectl's own --request-timeout is not set).
func (e *Env) KubectlCmd(ctx context.Context, kubeconfig, kubeContext string, args ...string) *exec.Cmd {
	full := append([]string{
		"--kubeconfig=" + kubeconfig,
		"--context=" + kubeContext,
		"--cache-dir=" + filepath.Join(e.Dir, "kubectl-cache"),
	}, args...)
	cmd := exec.CommandContext(ctx, e.Tools.Path("kubectl"), full...)
	cmd.Env = append(withoutEnv(os.Environ(), "KUBECONFIG", "KUBERC"), "KUBERC=off")
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Apply runs `kubectl apply --server-side` with each file or directory in
// files on one cluster.
func (e *Env) Apply(ctx context.Context, cluster string, files ...string) error {
	if len(files) == 0 {
		return errors.New("k8stest: Apply: no files")
	}
	args := []string{"apply", "--server-side", "--field-manager=k8stest"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	_, err := e.Kubectl(ctx, cluster, args...)
	return err
}

// ApplyManifest applies YAML given as a string (`kubectl apply
// --server-side -f -`) on one cluster.
func (e *Env) ApplyManifest(ctx context.Context, cluster, manifest string) error {
	_, err := e.KubectlStdin(ctx, cluster, strings.NewReader(manifest),
		"apply", "--server-side", "--field-manager=k8stest", "-f", "-")
	return err
}

// InstallGatewayAPICRDs applies the Gateway API standard channel
// (Tools.GatewayCRDs) to the named clusters, all of them when none is named,
// in parallel, and waits until every CRD is Established.
func (e *Env) InstallGatewayAPICRDs(ctx context.Context, clusters ...string) error {
	if len(clusters) == 0 {
		clusters = e.opts.Clusters
	}
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, name := range clusters {
		wg.Go(func() {
			if err := e.Apply(ctx, name, e.Tools.GatewayCRDs); err != nil {
				errs[i] = fmt.Errorf("install Gateway API CRDs in %s: %w", name, err)
				return
			}
			if _, err := e.Kubectl(ctx, name, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"); err != nil {
				errs[i] = fmt.Errorf("wait for the Gateway API CRDs in %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if k == n {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
