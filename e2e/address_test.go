package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/internal/testbin"
)

// goInternal is text of Go's that users saw instead of a message of
// zcopy's (issue 18).
var goInternal = []string{"too many colons", "missing port in address", "dial tcp", "listen tcp", "mkdirat", "lstat ", "p---------", "faild"}

// noGoInternal fails the test if s holds Go-internal text.
func noGoInternal(t testing.TB, s string) {
	t.Helper()
	for _, g := range goInternal {
		if strings.Contains(s, g) {
			t.Errorf("Go-internal %q reached the user: %q", g, s)
		}
	}
}

// TestAddressesAsTyped: --listen, --to and --from take addresses as users
// type them (issue 18). A bare port is that port on all addresses, with a
// notice that says so; an IPv6 address with a port and no brackets gets a
// message that shows the bracketed form; a missing host or port is named;
// a failed connect says so without Go's "dial tcp". Usage mistakes exit 2
// before anything listens or connects.
func TestAddressesAsTyped(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	if err := os.WriteFile(src, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"send-to-ipv6-unbracketed", []string{"send", "--raw", "--to", "::1:1033", src}, 2, "write [::1]:1033"},
		{"send-listen-ipv6-unbracketed", []string{"send", "--raw", "--listen", "::1:1033", src}, 2, "write [::1]:1033"},
		{"recv-from-ipv6-unbracketed", []string{"recv", "--from", "::1:1033", "--dir", dir}, 2, "write [::1]:1033"},
		{"recv-listen-ipv6-unbracketed", []string{"recv", "--raw", "--listen", "::1:1033", "-o", out}, 2, "write [::1]:1033"},
		{"send-to-bare-port", []string{"send", "--to", "8000", src}, 2, "--to 8000 names no host: give HOST:8000"},
		{"recv-from-no-port", []string{"recv", "--raw", "--from", "127.0.0.1", "-o", out}, 2, "--from 127.0.0.1 names no port"},
		{"send-to-bracketed-no-port", []string{"send", "--to", "[::1]", src}, 2, "write [::1]:PORT"},
		{"send-to-port-out-of-range", []string{"send", "--to", "127.0.0.1:99999", src}, 2, `"99999" is not a port`},
		{"send-to-refused", []string{"send", "--raw", "--to", "127.0.0.1:1", src}, 1, "cannot connect to 127.0.0.1:1: connection refused"},
		{"recv-from-refused", []string{"recv", "--from", "127.0.0.1:1", "--dir", dir}, 1, "cannot connect to 127.0.0.1:1: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
			if strings.Contains(stderr, "listening") {
				t.Errorf("it listened: %q", stderr)
			}
			noGoInternal(t, stderr)
		})
	}

	// A bare port to listen on, with nc as the sender.
	t.Run("listen-bare-port", func(t *testing.T) {
		nc := testbin.NeedTool(t, "nc")
		port := strconv.Itoa(testbin.FreePort(t)) // for zcopy to take
		r := start(t, "recv", "--raw", "--listen", port, "-o", out)
		addr := r.Addr(t)
		if _, p, _ := net.SplitHostPort(addr); p != port {
			t.Fatalf("listening on %s, want port %s", addr, port)
		}
		want := "--listen " + port + " means port " + port + " on all addresses"
		if !strings.Contains(r.Log(), want) {
			t.Errorf("no notice %q before listening: %q", want, r.Log())
		}
		cmd := exec.Command(nc, "-N", "127.0.0.1", port)
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nc: %v: %s", err, b)
		}
		if code, stderr := r.Wait(t); code != 0 {
			t.Fatalf("recv exit %d: %s", code, stderr)
		}
		sameFile(t, out, []byte("data"))
	})
}
