package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
	"github.com/zcopy/zcopy/zerocopy"
)

func TestHTTPHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"http", "--help"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	help := out.String()
	for _, want := range []string{"TLS", "user space", "sendfile", "--listen", "--method", "--no-list", "--log-format", "--metrics", "--tls-cert", "--tls-key", "--grace", "--max-conns", "--listing-memory", "--write-timeout"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
}

func TestHTTPUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"no-dir", []string{"http"}, exitUsage},
		{"two-dirs", []string{"http", dir, dir}, exitUsage},
		{"bad-method", []string{"http", dir, "--method", "carrier-pigeon"}, exitUsage},
		{"cert-without-key", []string{"http", dir, "--tls-cert", "c.pem"}, exitUsage},
		{"bad-log-format", []string{"http", dir, "--log-format", "xml"}, exitUsage},
		{"zero-conns", []string{"http", dir, "--max-conns", "0"}, exitUsage},
		{"zero-listing-memory", []string{"http", dir, "--listing-memory", "0"}, exitUsage},
		{"bad-flag", []string{"http", dir, "--nope"}, exitUsage},
		{"missing-dir", []string{"http", filepath.Join(dir, "nope"), "--listen", "127.0.0.1:0"}, exitFail},
		{"not-a-dir", []string{"http", "/etc/passwd", "--listen", "127.0.0.1:0"}, exitFail},
		{"bad-listen", []string{"http", dir, "--listen", "127.0.0.1:99999"}, exitFail},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(context.Background(), c.args, &out, &errb); code != c.code {
				t.Errorf("exit %d, want %d; stderr %q", code, c.code, errb.String())
			}
		})
	}
}

// startHTTP runs 'zcopy http' in-process and returns the addresses it
// printed; cancel stops it and returns its exit code.
func startHTTP(t *testing.T, args ...string) (addrs map[string]string, stderr *testbin.Buffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &testbin.Buffer{}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, append([]string{"http"}, args...), io.Discard, stderr) }()
	re := regexp.MustCompile(`zcopy http: (serving .* on|metrics on) (https?)://([^/]+)/`)
	addrs = map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range re.FindAllStringSubmatch(stderr.String(), -1) {
			key := "metrics"
			if strings.HasPrefix(m[1], "serving") {
				key = m[2]
			}
			addrs[key] = m[3]
		}
		if addrs["http"] != "" || addrs["https"] != "" {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("zcopy http exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed: %q", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("zcopy http did not stop 30 s after its context was cancelled")
			}
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return addrs, stderr, stop
}

func TestHTTPServe(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("zcopy "), 100000)
	os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644)
	addrs, stderr, stop := startHTTP(t, dir, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--log-format", "json", "--no-list", "--grace", "5s")

	resp, err := http.Get("http://" + addrs["http"] + "/f.bin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("status %d, %d bytes; want 200 and %d", resp.StatusCode, len(body), len(data))
	}
	resp, err = http.Get("http://" + addrs["http"] + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("listing with --no-list: status %d, want 403", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addrs["metrics"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`zcopy_http_requests_total{code="200",method="GET"} 1`, `zcopy_http_requests_total{code="403",method="GET"} 1`, "zcopy_http_responses_in_flight 0", "zcopy_http_truncations_total 0", "go_goroutines"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code := stop(); code != exitOK {
		t.Errorf("exit %d after a graceful stop, want 0", code)
	}

	// The access log is JSON, one object a line, after the address lines,
	// among the server's other messages.
	var sawFile bool
	sc := bufio.NewScanner(strings.NewReader(stderr.String()))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "zcopy http:") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["uri"] == "/f.bin" {
			if _, ok := rec["duration_s"].(float64); !ok || rec["proto"] != "HTTP/1.1" || rec["method"] != "GET" {
				t.Errorf("access log %v: want method, proto and duration_s (seconds)", rec)
			}
			sawFile = true
			want := "readwrite"
			if zerocopy.Supported(zerocopy.Sendfile, true) {
				want = "sendfile"
			}
			if rec["send"] != want || rec["status"] != float64(200) || rec["bytes"] != float64(len(data)) {
				t.Errorf("access log %v: want send=%s status=200 bytes=%d", rec, want, len(data))
			}
		}
	}
	if !sawFile {
		t.Errorf("no access log line for /f.bin in %q", stderr.String())
	}
}

func TestHTTPTLS(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("secure\n"), 0o644)
	cert, key := writeCert(t)
	addrs, _, stop := startHTTP(t, dir, "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "--access-log=false")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addrs["https"] + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "secure\n" || resp.TLS == nil {
		t.Errorf("body %q, TLS %v", body, resp.TLS != nil)
	}
	if code := stop(); code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	_, certPEM, keyPEM := testbin.SelfSigned(t)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o644)
	os.WriteFile(keyFile, keyPEM, 0o600)
	return certFile, keyFile
}
