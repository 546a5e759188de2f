// Package presubmit checks project conventions as tests, so a change that
// breaks them fails `make test` (the habit of CoreDNS's presubmit_test.go).
package presubmit

import (
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/meridian-gslb/meridian/"

// allowedInternal is the dependency direction of shared/design.md
// section 2, by top-level folder: what each may import from this module
// besides itself.
//
//	geo <- gslb <- {health, sites, dnsserver} <- config <- control <- httpapi <- cmd
//
// It is total: a top-level folder holding Go files with no entry here
// fails TestImportDirection, so a new package must say where it stands.
var allowedInternal = map[string][]string{
	"geo":       {},
	"gslb":      {"geo"},
	"health":    {"geo", "gslb"},
	"sites":     {"geo", "gslb"},
	"dnsserver": {"geo", "gslb"},
	// config: the file format, defaults and validation; it checks zones
	// with dnsserver's parser, checks with health's rules and gossip
	// keys with sites'.
	"config": {"geo", "gslb", "health", "sites", "dnsserver"},
	// control: merges everything into the next snapshot and runs the
	// process.
	"control": {"geo", "gslb", "health", "sites", "dnsserver", "config"},
	// httpapi: reads a control.Server; control never imports it.
	"httpapi": {"geo", "gslb", "health", "sites", "config", "control"},
	// cmd: the commands, thin; anything but the test harnesses.
	"cmd": {"geo", "gslb", "health", "sites", "dnsserver", "config", "control", "httpapi"},
	// test: end-to-end tests and harnesses drive the binary and real
	// servers from outside; they import only each other.
	"test": {},
	// testdata: generators of fixtures (testdata/geo/mkmmdb), standalone.
	"testdata": {},
}

// harnesses are the test-support packages every package's tests may use.
var harnesses = []string{"test/k8s/k8stest", "test/proctest", "test/scale"}

// Third-party modules only one top-level folder may import (outside tests).
var owner = map[string]string{
	"github.com/miekg/dns":            "dnsserver",
	"k8s.io/client-go":                "sites",
	"github.com/hashicorp/memberlist": "sites",
	"github.com/spf13/viper":          "config",
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

// goFiles lists the module's Go files by path relative to the root. Only
// the top-level testdata holds code (fixture generators); a testdata
// folder inside a package is data, which the go tool ignores too. Nested
// modules are not the module's files and are skipped, as ./... skips them.
func goFiles(t *testing.T, root string) []string {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "vendor", ".cache", "bin":
				return filepath.SkipDir
			case "testdata":
				if rel != "testdata" {
					return filepath.SkipDir
				}
			}
			// a folder with its own go.mod is another module (test/bench,
			// testdata/geo/mkmmdb), with its own dependencies
			if rel != "." {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// topFolder is the top-level folder of a file, "." for the root.
func topFolder(rel string) string {
	top, _, ok := strings.Cut(rel, "/")
	if !ok {
		return "."
	}
	return top
}

func TestImportDirection(t *testing.T) {
	root := repoRoot(t)
	unruled := map[string]bool{}
	for _, rel := range goFiles(t, root) {
		top := topFolder(rel)
		allowed, ruled := allowedInternal[top]
		if !ruled {
			unruled[top] = true
			continue
		}
		isTest := strings.HasSuffix(rel, "_test.go")
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, rel), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if internal, ok := strings.CutPrefix(p, module); ok {
				if isTest && slices.ContainsFunc(harnesses, func(h string) bool { return internal == h || strings.HasPrefix(internal, h+"/") }) {
					continue // the real-apiserver and subprocess harnesses serve every package's tests
				}
				dep := strings.SplitN(internal, "/", 2)[0]
				if dep != top && !slices.Contains(allowed, dep) {
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
	}
	for _, top := range slices.Sorted(maps.Keys(unruled)) {
		t.Errorf("%s/ holds Go files but has no import rule: add it to allowedInternal in test/presubmit", top)
	}
}

// TestRulesNameRealFolders keeps the rules honest the other way: a rule
// for a folder that no longer exists (renamed, removed) is stale.
func TestRulesNameRealFolders(t *testing.T) {
	root := repoRoot(t)
	for top, allowed := range allowedInternal {
		for _, name := range append([]string{top}, allowed...) {
			if fi, err := os.Stat(filepath.Join(root, name)); err != nil || !fi.IsDir() {
				t.Errorf("allowedInternal names %s/, which is not a top-level folder", name)
			}
		}
	}
	for _, pkg := range owner {
		if _, ok := allowedInternal[pkg]; !ok {
			t.Errorf("owner names %s, which has no import rule", pkg)
		}
	}
}
