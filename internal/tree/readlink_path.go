//go:build unix && !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package tree

import "os"

// readlink reads the target of the symlink at local. golang.org/x/sys/unix
// has no readlinkat here (illumos, Solaris, AIX), so it goes by the whole
// path, and a directory above it swapped for a symlink meanwhile may have
// the target of another symlink read: a name, never a file's contents.
func (dir) readlink(_, local string) (string, error) { return os.Readlink(local) }
