package sites

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Readers racing a writer always see a whole state, the old one or the
// new one: the write goes to a temporary file renamed over the path.
func TestStateFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	small, large := makeState(1, 1, 2), makeState(1, 2, 300)
	if err := WriteStateFile(path, small); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, bad atomic.Int64
	for range 1 {
		wg.Go(func() {
			for !stop.Load() {
				st, _, err := ReadStateFile(path)
				reads.Add(1)
				if err != nil || (st.Generation != 1 && st.Generation != 2) {
					bad.Add(1)
					t.Errorf("read a partial or broken state: %v", err)
					return
				}
			}
		})
	}
	for i := range 40 {
		st := small
		if i%2 == 0 {
			st = large
		}
		if err := WriteStateFile(path, st); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads during 40 writes, %d bad", reads.Load(), bad.Load())

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "state.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only state.json (no temporary files left)", names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if _, _, err := ReadStateFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no-such-dir", "state.json"), []byte("x"), 0o644); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	// A failed write leaves the previous file whole: here the target is
	// a directory, so the rename fails after the temp file is written.
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "taken"), []byte("x"), 0o644); err == nil {
		t.Error("rename over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if err := os.WriteFile(path, []byte(`{"format":1,"state":{"generation":1,"zones":"no"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadStateFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad file: %v", err)
	}
}
