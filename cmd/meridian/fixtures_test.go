package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/control"
)

// fixtures are the config package's test configurations, which the CLI
// tests run the binary on; goodFixture loads.
const (
	fixtures    = "../../config/testdata"
	goodFixture = fixtures + "/good.yaml"
)

// copyFile and writeFile prepare a server's files in a test directory.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shutdownTimeout bounds how long a server drains at shutdown.
const shutdownTimeout = control.ShutdownTimeout
