package httpserve

import (
	"io/fs"
	"syscall"
)

// changeTime returns fi's status change time (st_ctime) in nanoseconds:
// every write, truncation, chmod or rename of the file moves it, even one
// that sets the modification time back (stat(2)).
func changeTime(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}
