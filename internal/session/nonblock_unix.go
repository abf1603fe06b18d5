//go:build unix

package session

import "syscall"

// nonblock is O_NONBLOCK where it exists.
const nonblock = syscall.O_NONBLOCK
