package proctest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	a := WriteFile(t, filepath.Join(dir, "a", "b.txt"), "one")
	c := filepath.Join(dir, "c", "d.txt")
	CopyFile(t, a, c)
	ReplaceFile(t, a, "two")
	if got := ReadFile(t, a); got != "two" {
		t.Errorf("replaced file holds %q, want two", got)
	}
	if got := ReadFile(t, c); got != "one" {
		t.Errorf("copy holds %q, want one", got)
	}
	if _, err := os.Stat(a + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("ReplaceFile left its temporary file: %v", err)
	}
}

func TestMeridianEnv(t *testing.T) {
	t.Setenv("MERIDIAN_LOG_LEVEL", "chatty")
	env := MeridianEnv("MERIDIAN_CONFIG=x.yaml")
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "MERIDIAN_LOG_LEVEL=") }) ||
		env[len(env)-1] != "MERIDIAN_CONFIG=x.yaml" {
		t.Errorf("MeridianEnv kept the shell's MERIDIAN_* or lost the extra setting: %q", env)
	}
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte(r.Method))
	}))
	defer srv.Close()
	if code, body := HTTP(t, "POST", srv.URL); code != http.StatusTeapot || body != "POST" {
		t.Errorf("HTTP: %d %q", code, body)
	}
}
