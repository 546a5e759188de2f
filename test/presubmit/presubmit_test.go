// Package presubmit checks project conventions as tests, so a change that
// breaks them fails `make test` (the habit of CoreDNS's presubmit_test.go).
package presubmit

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/meridian-gslb/meridian/"

// The dependency direction of shared/design.md section 2:
// geo <- gslb <- {health, sites, dnsserver} <- cmd.
var allowedInternal = map[string][]string{
	"geo":       {},
	"gslb":      {"geo"},
	"health":    {"geo", "gslb"},
	"sites":     {"geo", "gslb"},
	"dnsserver": {"geo", "gslb"},
}

// Third-party modules only one package may import (outside tests).
var owner = map[string]string{
	"github.com/miekg/dns":            "dnsserver",
	"k8s.io/client-go":                "sites",
	"github.com/hashicorp/memberlist": "sites",
	"github.com/spf13/viper":          "cmd",
}

func repoRoot(t *testing.T) string {
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s", dir)
	}
	return dir
}

func TestImportDirection(t *testing.T) {
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "vendor", ".cache", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		isTest := strings.HasSuffix(path, "_test.go")
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module) {
				if isTest && strings.HasPrefix(p, module+"test/k8s/k8stest") {
					continue // the real-apiserver harness serves every package's tests
				}
				dep := strings.SplitN(strings.TrimPrefix(p, module), "/", 2)[0]
				allowed, ruled := allowedInternal[top]
				if ruled && dep != top && !contains(allowed, dep) {
					t.Errorf("%s imports %s: %s may only import %v", rel, p, top, allowed)
				}
				continue
			}
			for mod, pkg := range owner {
				if (p == mod || strings.HasPrefix(p, mod+"/")) && top != pkg && !isTest {
					t.Errorf("%s imports %s: only %s/ may", rel, p, pkg)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
