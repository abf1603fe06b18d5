//go:build unix && !(linux || darwin || freebsd || netbsd || openbsd)

package tree

import "os"

// readlinkAt reads the target of the symlink at local (golang.org/x/sys/unix
// has no readlinkat here, so by its whole path).
func readlinkAt(_ *os.File, _, local string) (string, error) { return os.Readlink(local) }
