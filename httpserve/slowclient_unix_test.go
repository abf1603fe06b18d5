//go:build unix

package httpserve_test

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// slowClient connects with a small receive buffer (set before the
// handshake, so the window never grows past it), so that the server soon
// parks on a full socket while the test holds off reading.
func slowClient(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c
}
