package httpserve_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(tb testing.TB) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "zcopy test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLS serves HTTPS to curl. The body is right, and it went through
// net/http's buffers, not the engine: TLS encrypts in user space.
func TestTLS(t *testing.T) {
	curlBin := testbin.NeedTool(t, "curl")
	dir := t.TempDir()
	data := readFile(t, makeFile(t, dir, "f.bin", 1<<20+7))
	ts := startServer(t, httpserve.Config{Dir: dir, TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}})
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
