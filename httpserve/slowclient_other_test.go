//go:build !unix

package httpserve_test

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// slowClient connects with a small receive buffer, so that the server soon
// parks on a full socket while the test holds off reading.
func slowClient(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c
}

// smallSendBuffer leaves the send buffer alone on this platform.
func smallSendBuffer(_, _ string, _ syscall.RawConn) error { return nil }
