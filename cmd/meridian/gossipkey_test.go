package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/sites"
)

func TestGossipKeyCommand(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"gossip-key"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	path := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if keys, err := sites.ReadKeyFile(path); err != nil || len(keys) != 1 || len(keys[0]) != 32 {
		t.Errorf("gossip-key printed %q: %v", out.String(), err)
	}
}
