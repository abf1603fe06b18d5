//go:build unix

package httpserve_test

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
)

// TestFIFO: a FIFO in the directory is refused at once; opening it must not
// wait for a writer (nginx opens with O_NONBLOCK for the same reason).
func TestFIFO(t *testing.T) {
	ts := startServer(t, httpserve.Config{})
	if err := syscall.Mkfifo(filepath.Join(ts.Dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(ts.URL + "/fifo")
	if err != nil {
		t.Fatalf("GET of a FIFO: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
}
