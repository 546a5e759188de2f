package config

import (
	"io/fs"
	"syscall"
)

// stampOf is fi's stamp: size, modification time, inode and change time
// (which no user tool sets back, unlike the modification time).
func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), modTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.inode, s.ctime = st.Ino, st.Ctim.Nano()
	}
	return s
}
