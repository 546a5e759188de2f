package sites

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/meridian-gslb/meridian/gslb"
)

// ReadStateFile reads a state file written by WriteStateFile (or by
// anything that writes gslb.State.Encode's format) and validates it. It
// also returns the raw bytes, which are what a follower serves and hashes.
// A missing file is fs.ErrNotExist, wrapped.
func ReadStateFile(path string) (*gslb.State, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("sites: state file: %w", err)
	}
	st, err := gslb.DecodeState(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("sites: state file %s: %w", path, err)
	}
	return st, raw, nil
}

// WriteStateFile encodes st and writes it to path atomically (see
// WriteFileAtomic), so a reader, or a restart after a crash, sees either
// the previous state or this one, never a mix.
func WriteStateFile(path string, st *gslb.State) error {
	raw, err := st.Encode()
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, raw, 0o644)
}

// WriteFileAtomic replaces path with data so that no partial file is ever
// visible under path: it writes a temporary file in the same directory,
// fsyncs it, renames it over path (atomic on POSIX file systems), then
// fsyncs the directory so the rename itself survives a power loss. On any
// error the temporary file is removed and path is left as it was.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("sites: write %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("sites: write %s: %w", path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	renamed = true
	// From here the new file is in place; a failing directory sync only
	// weakens durability, so it is reported but nothing is undone.
	if d, derr := os.Open(dir); derr == nil {
		serr := d.Sync()
		_ = d.Close()
		// Some file systems do not support fsync on a directory.
		if serr != nil && !errors.Is(serr, errors.ErrUnsupported) && !errors.Is(serr, syscall.EINVAL) {
			return fmt.Errorf("sites: sync directory %s: %w", dir, serr)
		}
	}
	return nil
}
