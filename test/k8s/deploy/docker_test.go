package deploy

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// TestDockerBuildContext builds the binary the way the Dockerfile does,
// from a copy of the build context that .dockerignore leaves: there is no
// Docker engine here, but a file the build needs and .dockerignore drops
// fails this test. It also checks the Dockerfile's fixed points: the build
// flags, the non-root user and the command the chart relies on.
func TestDockerBuildContext(t *testing.T) {
	proctest.SkipShort(t, "builds the binary from the Docker context")
	root := repoRoot(t)
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build",
		"CGO_ENABLED=0",
		"-trimpath",
		"-X main.version=${VERSION} -X main.commit=${COMMIT}",
		"FROM gcr.io/distroless/static:nonroot",
		"USER 65532:65532",
		`ENTRYPOINT ["/meridian"]`,
		`CMD ["serve", "--config", "/etc/meridian/config/meridian.yaml"]`,
	} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}

	patterns := dockerignore(t, filepath.Join(root, ".dockerignore"))
	ctxDir := t.TempDir()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, e := range entries {
		if ignored(e.Name(), patterns) {
			continue
		}
		kept = append(kept, e.Name())
		if err := copyTree(filepath.Join(root, e.Name()), filepath.Join(ctxDir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("build context: %v", kept)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.version=test -X main.commit=none",
		"-o", filepath.Join(t.TempDir(), "meridian"), "./cmd/meridian")
	cmd.Dir = ctxDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build from the Docker build context: %v\n%s", err, out)
	}
}

// dockerignore reads the patterns; this test supports only top-level names
// and globs (with an optional leading /), which is all the file uses.
func dockerignore(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.TrimSuffix(strings.TrimPrefix(line, "/"), "/")
		if strings.ContainsAny(p, "/!") || strings.Contains(p, "**") {
			t.Fatalf(".dockerignore pattern %q: this test handles top-level names and globs only; extend it", line)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func ignored(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case !info.Mode().IsRegular():
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
