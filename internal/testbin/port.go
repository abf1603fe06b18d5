package testbin

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
)

// FreePort returns a TCP port that nothing listens on at 127.0.0.1 now,
// for a server the test starts that takes a port number, not a listener
// (nginx, sshd, zcopy --listen PORT). The port is below the kernel's
// ephemeral range (/proc/sys/net/ipv4/ip_local_port_range; see ip(7)),
// from which bind to port 0 and connect pick theirs: a port a test freed
// from a listener of its own could be taken by a test running beside it
// before its server binds it, and this one cannot. Where the range cannot
// be read it falls back to a port the kernel picks.
func FreePort(tb testing.TB) int {
	tb.Helper()
	low := 32768 // Linux's default lower bound
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var hi int
		fmt.Sscan(string(b), &low, &hi)
	}
	if span := low - 1024; span >= 1000 {
		for range 100 {
			port := 1024 + rand.IntN(span)
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				ln.Close()
				return port
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
