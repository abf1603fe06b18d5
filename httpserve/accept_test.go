package httpserve_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
)

// emfileOnce is a listener whose first Accept fails with EMFILE, as one
// does when the process is out of descriptors.
type emfileOnce struct {
	net.Listener
	failed atomic.Bool
}

func (l *emfileOnce) Accept() (net.Conn, error) {
	if !l.failed.Swap(true) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptShortageRetried: running out of descriptors for a moment does
// not end Serve (fasthttp ends it on any Accept error that is not a
// timeout): the listener waits and accepts again, as net/http does.
func TestAcceptShortageRetried(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("ok"), 0o644)
	s, err := httpserve.New(httpserve.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, &emfileOnce{Listener: ln}) }()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + ln.Addr().String() + "/f")
	if err != nil {
		t.Fatalf("GET after an EMFILE from accept: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("body %q", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
