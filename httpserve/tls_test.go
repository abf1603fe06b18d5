package httpserve_test

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// TestTLS serves HTTPS to curl. The body is right, and it went through
// net/http's buffers, not the engine: TLS encrypts in user space.
func TestTLS(t *testing.T) {
	curlBin := testbin.NeedTool(t, "curl")
	cert, _, _ := testbin.SelfSigned(t)
	dir := t.TempDir()
	data := readFile(t, makeFile(t, dir, "f.bin", 1<<20+7))
	ts := startServer(t, httpserve.Config{Dir: dir, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	out := filepath.Join(t.TempDir(), "out")
	info := mustRun(t, time.Minute, curlBin, "-sS", "-k", "-o", out, "-w", "%{http_version} %{http_code}", "-r", "0-", "https://"+ts.Addr+"/f.bin")
	if string(info) != "1.1 206" {
		t.Errorf("curl: %q, want HTTP/1.1 and 206", info)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want the file's %d", len(got), len(data))
	}
	r := ts.nthResponse(t, 1)
	if r.SendMethod != httpserve.SendBuffered || r.EngineBytes != 0 || r.Outcome != httpserve.OK {
		t.Errorf("send method %q, %d engine bytes, outcome %q: want buffered, 0, ok", r.SendMethod, r.EngineBytes, r.Outcome)
	}
}
