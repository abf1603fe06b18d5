//go:build unix

package httpserve

import "syscall"

// openFilesShare is the share of the limit on open files (RLIMIT_NOFILE,
// the soft limit, which Go raises to the hard one at start) that the file
// cache may hold: a quarter, leaving the rest to connections.
func openFilesShare() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 64
	}
	return int(min(rl.Cur/4, 1<<20))
}
