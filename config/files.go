package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// regularFile is the one rule for every file the configuration names
// (the config file itself, geo.database, zone files, CA files, the admin
// token, the gossip keys, the member kubeconfig): it must be a regular
// file. Opening a FIFO for reading blocks until a writer comes, which would
// hang check-config and the reload loop for ever; a device or a directory
// reads as garbage. A path that cannot be stat'ed passes: its reader says
// what is wrong with it (not found, permission denied). Call it before the
// file is opened, and skip the open when it fails.
func (p *problems) regularFile(field, path string) bool {
	if err := checkRegular(path); err != nil {
		p.add(field, "%v", err)
		return false
	}
	return true
}

// readFile reads the file at path that field names: a path that is not a
// regular file or cannot be read is reported at field, and ok is false.
func (p *problems) readFile(field, path string) (b []byte, ok bool) {
	if !p.regularFile(field, path) {
		return nil, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		p.add(field, "%s: %v", path, statReason(err))
		return nil, false
	}
	return b, true
}

// existingFile is regularFile for a file that is not read here, so that
// no reader would say what is wrong with it (the geo database, opened by
// a library; the member kubeconfig): a path that cannot be stat'ed is
// reported too. It returns the file's info when the file passes.
func (p *problems) existingFile(field, path string) (fs.FileInfo, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		p.add(field, "%s: %v", path, statReason(err))
		return nil, false
	}
	return fi, p.regularFile(field, path)
}

// statReason is a stat or read error without the path, which the caller
// prints.
func statReason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file")
		}
		return pe.Err
	}
	return err
}

// checkRegular returns the error regularFile records, naming the path.
func checkRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is not a regular file (%s)", path, fileKind(fi.Mode()))
}

// fileKind names a non-regular file's type for the error message.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return m.Type().String()
	}
}
