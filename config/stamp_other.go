//go:build !linux

package config

import "io/fs"

// stampOf is fi's stamp: size and modification time (the inode and the
// change time are read on Linux only).
func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), modTime: fi.ModTime()}
}
