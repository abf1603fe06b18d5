//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package tree

import "golang.org/x/sys/unix"

// errFtype is NetBSD's answer to O_NOFOLLOW at a symlink (EFTYPE), defined
// on the other BSDs too.
const errFtype = unix.EFTYPE
