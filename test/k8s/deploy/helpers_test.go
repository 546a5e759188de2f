package deploy

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

	"go.yaml.in/yaml/v3"

	"github.com/meridian-gslb/meridian/test/k8s/k8stest"
)

// The release every test renders: its name and namespace appear in the
// expected object names.
const (
	release   = "mer"
	namespace = "meridian"
	fullname  = release + "-meridian"
)

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot is the directory holding go.mod and deploy/.
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if _, err := os.Stat(filepath.Join(dir, "deploy", "helm", "meridian")); err == nil {
					rootDir = dir
					return
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("repository root (go.mod and deploy/helm/meridian) not found above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "deploy", "helm", "meridian") }

func crdDir(t testing.TB) string { return filepath.Join(chartDir(t), "crds") }

func ciValues(t testing.TB, mode string) string {
	return filepath.Join(chartDir(t), "ci", mode+"-values.yaml")
}

// helmRunner runs the helm the tools script built, with its cache, config
// and data directories in a temporary directory and no kubeconfig, so that
// it neither reads nor writes anything of the user's.
type helmRunner struct {
	bin string
	env []string
}

func newHelm(t testing.TB) *helmRunner {
	t.Helper()
	return &helmRunner{bin: k8stest.RequireTools(t).Helm, env: k8stest.HelmEnv(t)}
}

// run runs helm and returns its standard output; the error holds the
// command line and helm's standard error.
func (h *helmRunner) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = h.env
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// template renders the chart as release "mer" in namespace "meridian".
func (h *helmRunner) template(ctx context.Context, t testing.TB, args ...string) (string, error) {
	return h.templateIn(ctx, t, namespace, args...)
}

// templateIn renders the chart as release "mer" in namespace ns.
func (h *helmRunner) templateIn(ctx context.Context, t testing.TB, ns string, args ...string) (string, error) {
	full := append([]string{"template", release, chartDir(t), "--namespace", ns}, args...)
	return h.run(ctx, full...)
}

// object is one Kubernetes object decoded from YAML.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }

func (o object) name() string { s, _ := path(o, "metadata", "name").(string); return s }

// path walks nested maps and lists ("spec", "ports", 0, "port") and returns
// nil when a step is missing.
func path(v any, steps ...any) any {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				if o, isObj := v.(object); isObj {
					m, ok = map[string]any(o), true
				}
			}
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		default:
			panic(fmt.Sprintf("path step %v of type %T", s, s))
		}
	}
	return v
}

// decodeAll splits a multi-document YAML stream into objects (empty
// documents are skipped).
func decodeAll(t testing.TB, s string) []object {
	t.Helper()
	var out []object
	dec := yaml.NewDecoder(strings.NewReader(s))
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode YAML: %v\n%s", err, s)
		}
		if o != nil {
			out = append(out, object(o))
		}
	}
}

// find returns the object of a kind and name, failing the test without it.
func find(t testing.TB, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return o
		}
	}
	var have []string
	for _, o := range objs {
		have = append(have, o.kind()+"/"+o.name())
	}
	t.Fatalf("no %s %q among %v", kind, name, have)
	return nil
}

func readYAMLFile(t testing.TB, file string) object {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, string(b))
	if len(objs) != 1 {
		t.Fatalf("%s: %d documents, want 1", file, len(objs))
	}
	return objs[0]
}
