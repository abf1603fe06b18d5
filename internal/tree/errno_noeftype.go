//go:build unix && !(darwin || dragonfly || freebsd || netbsd || openbsd)

package tree

import "syscall"

// errFtype is EFTYPE where the system has it; this one has not, and no
// error is 0.
const errFtype = syscall.Errno(0)
