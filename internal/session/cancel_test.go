package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/tree"
)

// countingConn counts the bytes written through it once armed. It hides
// the socket's descriptor, so every body goes through Write and is
// counted.
type countingConn struct {
	net.Conn
	armed   atomic.Bool
	written atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if c.armed.Load() {
		c.written.Add(int64(n))
	}
	return n, err
}

// TestSendCancelStopsWriting cancels a Send of many small files (sent in
// batches, each one write after the idle timeout is pushed ahead) from its
// progress: nothing may be written after the cancel, and Send must return
// the context's error. Issue 13: the idle-timeout reset before each write
// undid the cancellation's past deadline, and Send kept writing ~7 MB
// after the cancel and returned a second later.
func TestSendCancelStopsWriting(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	body := make([]byte, 48<<10)
	for i := range 400 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	c, s := tcpPair(t)
	go Receive(context.Background(), s, root, Options{IdleTimeout: 10 * time.Second})
	cc := &countingConn{Conn: c}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := Options{Dialed: true, IdleTimeout: time.Minute, Progress: func(p Progress) {
		if p.Done >= 2<<20 && !cc.armed.Load() {
			cc.armed.Store(true)
			cancel()
		}
	}}
	began := time.Now()
	_, err = Send(ctx, cc, Items(items), o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send returned %v, want context.Canceled", err)
	}
	if !cc.armed.Load() {
		t.Fatal("the progress never reached 2 MiB: nothing was cancelled")
	}
	if n := cc.written.Load(); n != 0 {
		t.Errorf("%d bytes written after the cancel (in %v), want none", n, time.Since(began))
	}
}
