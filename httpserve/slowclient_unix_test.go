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

// smallSendBuffer is a net.ListenConfig Control that gives the listening
// socket, and so every connection accepted from it, a small send buffer
// (64 KiB, which Linux doubles) that the kernel does not grow. A writer on
// a full socket is woken once about a third of the buffer has drained: with
// this buffer every few tens of KiB a slow client reads, where the grown
// buffer (up to 4 MiB, net.ipv4.tcp_wmem) would make it every MiB or so.
func smallSendBuffer(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 64<<10)
	}); err != nil {
		return err
	}
	return serr
}
