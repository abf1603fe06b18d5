package httpserve_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// TestConfinement is acceptance point 3 of issue 5: no request reaches a
// byte outside the served directory, whether by "..", encoded dots,
// absolute paths or symbolic links that point out.
func TestConfinement(t *testing.T) {
	curlBin := testbin.NeedTool(t, "curl")
	base := t.TempDir()
	marker := fmt.Sprintf("TOP-SECRET-%d", time.Now().UnixNano())
	os.WriteFile(filepath.Join(base, "secret.txt"), []byte(marker+"\n"), 0o644)
	dir := filepath.Join(base, "www")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "ok.txt"), []byte("inside\n"), 0o644)
	for link, target := range map[string]string{
		"passwd":    "/etc/passwd",
		"up":        "../secret.txt",
		"updir":     "..",
		"abs":       filepath.Join(base, "secret.txt"),
		"inner":     "ok.txt",
		"sub/inner": "../ok.txt",
		"sub/up":    "../../secret.txt",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	outside := [][]byte{[]byte(marker)}
	if b, err := os.ReadFile("/etc/passwd"); err == nil && len(b) > 0 {
		first, _, _ := bytes.Cut(b, []byte("\n"))
		outside = append(outside, first)
	}
	ts := startServer(t, httpserve.Config{Dir: dir})

	leaks := func(t *testing.T, what string, body []byte) {
		t.Helper()
		for _, o := range outside {
			if bytes.Contains(body, o) {
				t.Errorf("%s: the response holds %q from outside the directory", what, o)
			}
		}
	}

	t.Run("curl", func(t *testing.T) {
		for _, p := range []string{
			"/../secret.txt",
			"/%2e%2e/secret.txt",
			"/%2E%2E/secret.txt",
			"/.%2e/secret.txt",
			"/..%2fsecret.txt",
			"/%2e%2e%2fsecret.txt",
			"/sub/../../secret.txt",
			"/sub/%2e%2e/%2e%2e/secret.txt",
			"/./../secret.txt",
			"/..%5csecret.txt",
			`/..\secret.txt`,
			"//etc/passwd",
			"/%2fetc%2fpasswd",
			"/../../../../../../etc/passwd",
			"/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
			"/passwd",
			"/up",
			"/abs",
			"/updir/secret.txt",
			"/updir/www/ok.txt",
			"/updir/",
			"/sub/up",
			"/%00",
		} {
			t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
				out, err := run(t, 30*time.Second, curlBin, "-sS", "--path-as-is", "-w", "\n%{http_code}", ts.URL+p)
				if err != nil {
					t.Fatal(err)
				}
				body, code, _ := cutLast(out)
				leaks(t, p, body)
				if code < "400" {
					t.Errorf("%s: status %s, want a 4xx (body %q)", p, code, body)
				}
			})
		}
	})
	t.Run("inside", func(t *testing.T) {
		for _, p := range []string{"/inner", "/sub/inner", "/ok.txt"} {
			out := mustRun(t, 30*time.Second, curlBin, "-sS", "--path-as-is", ts.URL+p)
			if string(out) != "inside\n" {
				t.Errorf("%s: %q, want the file inside", p, out)
			}
		}
		out := mustRun(t, 30*time.Second, curlBin, "-sS", ts.URL+"/")
		leaks(t, "listing", out)
	})
	// Request targets curl will not send: raw, relative, absolute-form.
	t.Run("raw", func(t *testing.T) {
		for _, target := range []string{
			"../secret.txt",
			"/../secret.txt",
			"http://" + ts.Addr + "/../secret.txt",
			"http://" + ts.Addr + "/%2e%2e/secret.txt",
			"/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
			"*",
		} {
			c, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%s: %v", target, err)
			}
			body, _ := io.ReadAll(resp.Body)
			c.Close()
			leaks(t, target, body)
			if resp.StatusCode < 400 {
				t.Errorf("%s: status %d, want a 4xx", target, resp.StatusCode)
			}
		}
	})
}

// cutLast splits curl output whose last line is the status code.
func cutLast(out []byte) (body []byte, code string, ok bool) {
	i := bytes.LastIndexByte(out, '\n')
	if i < 0 {
		return nil, string(out), false
	}
	return out[:i], string(out[i+1:]), true
}
