package httpserve_test

import (
	"net"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

// slowClient connects with a small receive buffer (set before the
// handshake, so the window never grows past it), so that the server soon
// parks on a full socket while the test holds off reading.
func slowClient(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	d := net.Dialer{Control: testbin.SmallRcvBuf}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	return c
}
