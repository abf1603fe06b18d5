package httpserve

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unreadInput reports whether c's receive queue holds bytes not yet read
// (ioctl SIOCINQ, tcp(7)).
func unreadInput(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	rc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
	return n > 0
}
