package session

import (
	"context"
	"net"
	"runtime"
	"testing"

	"github.com/zcopy/zcopy/internal/proto"
)

// TestCancelDuringFailedTLS: a session cancelled while its TLS handshake
// fails (a server shutting down as a stranger sends garbage) must neither
// race nor crash: the cancellation's deadline goes to the connection
// beneath TLS, not to the variable that the failed handshake leaves nil
// (it panicked in the cancellation's goroutine, taking a --keep server
// down, and raced under -race).
func TestCancelDuringFailedTLS(t *testing.T) {
	for i := range 2000 {
		c, s := net.Pipe()
		go func() {
			c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			c.Close()
		}()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for range i % 7 {
				runtime.Gosched()
			}
			cancel()
		}()
		Refuse(ctx, s, proto.RoleReceiver, Options{Token: "x"}, "full")
		cancel()
		s.Close()
	}
}
