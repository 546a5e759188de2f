package proctest

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes text to path, creating its directory, and returns path:
// the files a test gives a subprocess.
func WriteFile(t testing.TB, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ReadFile returns the content of path (a fixture, say), failing the test
// if it cannot be read.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// CopyFile copies the file from to the path to, creating its directory.
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	WriteFile(t, to, ReadFile(t, from))
}

// ReplaceFile writes text to path atomically, the way editors and config
// management do: a temporary file beside it, renamed over the original. A
// server watching path sees one complete change.
func ReplaceFile(t testing.TB, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
