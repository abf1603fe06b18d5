package zerocopy

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// makeFile writes size random bytes to a new file under t.TempDir and
// returns its path and contents. The seed is logged so a failure can be
// replayed.
func makeFile(tb testing.TB, size int) (string, []byte) {
	tb.Helper()
	seed := uint64(time.Now().UnixNano())
	tb.Logf("random data seed %d", seed)
	var key [32]byte
	for i := range key {
		key[i] = byte(seed >> (8 * (i % 8)))
	}
	data := make([]byte, size)
	rand.NewChaCha8(key).Read(data)
	path := filepath.Join(tb.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, data
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		tb.Fatal(r.err)
	}
	tb.Cleanup(func() { c.Close(); r.c.Close() })
	return c.(*net.TCPConn), r.c.(*net.TCPConn)
}

// readAllAsync reads c until EOF in a goroutine and delivers the bytes.
func readAllAsync(c net.Conn) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, c)
		ch <- b.Bytes()
	}()
	return ch
}

// openFile opens path read-only and closes it at cleanup.
func openFile(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// sendContext returns context.Background, or, if cancellable, a context
// that can be cancelled (which the test's end cancels): SendFile watches
// only the second kind.
func sendContext(t *testing.T, cancellable bool) context.Context {
	if !cancellable {
		return context.Background()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
