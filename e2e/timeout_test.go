package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListenTimeout: a one-shot listener given --timeout gives up when no
// peer has completed the handshake by then (issue 18: "keeps waiting for a
// peer ... until --timeout if given"), in the framed protocol and in raw
// mode, at either end: exit status 1, a message that says nothing was
// transferred, nothing written. A stray (a connection closed at once) does
// not count as the peer, and does not end the wait early either.
func TestListenTimeout(t *testing.T) {
	src, _ := randomFile(t, t.TempDir(), "f.bin", 4096)
	for _, tc := range []struct {
		name string
		args func(dst string) []string
		want string
	}{
		{"recv-framed", func(dst string) []string {
			return []string{"recv", "--listen", "127.0.0.1:0", "--timeout", "500ms", "--dir", dst}
		}, "no peer completed the handshake within 500ms (--timeout): nothing was transferred"},
		{"send-framed", func(string) []string {
			return []string{"send", "--listen", "127.0.0.1:0", "--timeout", "500ms", src}
		}, "no peer completed the handshake within 500ms (--timeout): nothing was transferred"},
		{"recv-raw", func(dst string) []string {
			return []string{"recv", "--raw", "--listen", "127.0.0.1:0", "--timeout", "500ms", "-o", filepath.Join(dst, "out")}
		}, "no peer connected within 500ms"},
		{"send-raw", func(string) []string {
			return []string{"send", "--raw", "--listen", "127.0.0.1:0", "--timeout", "500ms", src}
		}, "no peer connected within 500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
			p := start(t, tc.args(dst)...)
			addr := p.Addr(t)
			if !strings.Contains(tc.name, "raw") {
				// A stray, connected and closed before any handshake,
				// if the wait has not passed already (no waiting for
				// its log line: the verdict must not depend on speed).
				// Counted as the peer, it would end in a handshake
				// error, not in the message wanted.
				if c, err := net.Dial("tcp", addr); err == nil {
					c.Close()
				}
			}
			code, serr := p.Wait(t)
			if code != 1 || !strings.Contains(serr, tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant 1 and %q", code, serr, tc.want)
			}
			if ents, _ := os.ReadDir(dst); len(ents) != 0 {
				t.Errorf("%d entries left in the receiving directory, want none", len(ents))
			}
		})
	}
}

// TestTimeoutUsage: --timeout bounds a one-shot listener's wait, so it is
// refused with --keep and without --listen, before any socket.
func TestTimeoutUsage(t *testing.T) {
	dst := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"recv", "--listen", "127.0.0.1:0", "--keep", "--timeout", "1s", "--dir", dst}, "--timeout goes with a one-shot --listen"},
		{[]string{"send", "--listen", "127.0.0.1:0", "--keep", "--timeout", "1s", dst}, "--timeout goes with a one-shot --listen"},
		{[]string{"send", "--to", "127.0.0.1:9", "--timeout", "1s", dst}, "--timeout goes with --listen"},
		{[]string{"recv", "--from", "127.0.0.1:9", "--timeout", "1s", "--dir", dst}, "--timeout goes with --listen"},
		{[]string{"recv", "--listen", "127.0.0.1:0", "--timeout", "-1s", "--dir", dst}, "--timeout wants a duration of 0 or more"},
	} {
		code, _, serr := run(t, tc.args...)
		if code != 2 || !strings.Contains(serr, tc.want) || strings.Contains(serr, "listening on") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q, before any listening", tc.args, code, serr, tc.want)
		}
	}
}
