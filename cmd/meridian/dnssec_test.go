package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDNSSECCommands: keygen writes a key pair and prints its name, which a
// configuration then names; ds prints its DS and status lists it.
func TestDNSSECCommands(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys") // keygen makes it
	call := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, name, stderr := call("dnssec", "keygen", "--zone", "gslb.example", "--dir", keys, "--algorithm", "ed25519")
	name = strings.TrimSpace(name)
	if code != exitOK || !strings.HasPrefix(name, "Kgslb.example.+015+") || !strings.Contains(stderr, "key-signing key") {
		t.Fatalf("keygen: exit %d, %q, %q", code, name, stderr)
	}
	for _, ext := range []string{".key", ".private"} {
		if _, err := os.Stat(filepath.Join(keys, name+ext)); err != nil {
			t.Errorf("keygen wrote no %s: %v", ext, err)
		}
	}
	b, err := os.ReadFile(goodFixture)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "  - name: gslb.example.\n", "  - name: gslb.example.\n    dnssec: {keys: [{name: "+name+"}]}\n", 1)
	text = strings.Replace(text, "dns:\n", "dns:\n  dnssec_key_directory: keys\n", 1)
	text = strings.ReplaceAll(text, "zones/static.example.zone", filepath.Join(mustAbs(t, fixtures), "zones/static.example.zone"))
	cfg := filepath.Join(dir, "meridian.yaml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tag := name[strings.LastIndex(name, "+")+1:]
	tag = strings.TrimLeft(tag, "0")
	code, out, stderr := call("dnssec", "ds", "--config", cfg)
	if code != exitOK || !strings.HasPrefix(out, "gslb.example.\t3600\tIN\tDS\t"+tag+" 15 2 ") {
		t.Fatalf("ds: exit %d, %q, %q", code, out, stderr)
	}
	if code, out2, _ := call("dnssec", "ds", filepath.Join(keys, name+".key")); code != exitOK || out2 != out {
		t.Errorf("ds of the key file: exit %d, %q, want %q", code, out2, out)
	}
	// Key files named as a Kubernetes Secret must name them ("_" for
	// "+") are found as the server finds them.
	for _, ext := range []string{".key", ".private"} {
		if err := os.Rename(filepath.Join(keys, name+ext), filepath.Join(keys, strings.ReplaceAll(name, "+", "_")+ext)); err != nil {
			t.Fatal(err)
		}
	}
	if code, out2, stderr := call("dnssec", "ds", "--config", cfg); code != exitOK || out2 != out {
		t.Errorf("ds with Secret-named key files: exit %d, %q, %q", code, out2, stderr)
	}
	code, out, stderr = call("dnssec", "status", "--config", cfg)
	if code != checkInSync || !strings.Contains(out, name+"  key-signing key  algorithm 15  tag "+tag+"  active") {
		t.Errorf("status: exit %d, %q, %q", code, out, stderr)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"dnssec"},
		{"dnssec", "keygen", "--zone", "gslb.example"},
		{"dnssec", "keygen", "--zone", "gslb.example", "--dir", keys, "--role", "xsk"},
		{"dnssec", "keygen", "--zone", "gslb.example", "--dir", keys, "--algorithm", "8"},
		{"dnssec", "ds"},
	} {
		if code, _, _ := call(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, _ := call("dnssec", "status"); code != checkError {
		t.Errorf("status without --config: exit %d, want %d", code, checkError)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
