//go:build unix

package testbin

import "syscall"

const soRcvBuf, soSndBuf = syscall.SO_RCVBUF, syscall.SO_SNDBUF

func setsockopt(fd uintptr, opt, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, n)
}
