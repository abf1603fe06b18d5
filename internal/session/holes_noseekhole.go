//go:build !(darwin || freebsd || linux)

package session

import "os"

// mayHaveHoles is false where the system cannot say where a file's holes
// are (no SEEK_DATA): files are sent dense.
func mayHaveHoles(os.FileInfo) bool { return false }

// nextData is never called here (mayHaveHoles is false): all is data.
func nextData(_ *os.File, off, end int64) (start, stop int64, ok bool) {
	return off, end, true
}
