package e2e

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/internal/testbin"
)

// strayLogged waits for a one-shot listener to log a peer that did not
// complete the handshake, and returns its stderr; it must still be
// waiting for the next.
func strayLogged(t testing.TB, p *proc) string {
	t.Helper()
	log := p.WaitLog(t, "still waiting for a peer", 1)
	if !p.Running() {
		t.Errorf("the listener exited after a failed handshake instead of waiting for another peer:\n%s", p.Log())
	}
	return log
}

// TestOneShotListenerOutlastsStrays: a one-shot listener (recv --listen,
// send --listen, without --keep) is not used up by a connection that does
// not complete the handshake (issue 18): nc -z, a browser's GET /, a zcopy
// peer with the wrong token. Each is logged ("still waiting for a peer")
// and the listener goes on to serve the real peer, after which both exit
// 0 with the file in place. The wrong-token peer itself fails, saying why.
func TestOneShotListenerOutlastsStrays(t *testing.T) {
	nc := testbin.NeedTool(t, "nc")
	src, data := randomFile(t, t.TempDir(), "f.bin", 64<<10)
	strays := []struct {
		name string
		run  func(t *testing.T, addr, role, dst string)
	}{
		{"nc-z", func(t *testing.T, addr, _, _ string) {
			host, port, _ := net.SplitHostPort(addr)
			if b, err := exec.Command(nc, "-z", host, port).CombinedOutput(); err != nil {
				t.Fatalf("nc -z: %v: %s", err, b)
			}
		}},
		{"http-get", func(t *testing.T, addr, _, _ string) {
			host, port, _ := net.SplitHostPort(addr)
			cmd := exec.Command(nc, "-N", host, port)
			cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
			cmd.Run() // whatever it got, the listener closes it
		}},
		{"wrong-token", func(t *testing.T, addr, role, dst string) {
			args := []string{"send", "--token", "not-the-one", "--to", addr, src}
			if role == "send" {
				args = []string{"recv", "--token", "not-the-one", "--from", addr, "--dir", dst}
			}
			code, _, serr := run(t, args...)
			if code != 1 || !strings.Contains(serr, "authentication failed") {
				t.Errorf("the peer with the wrong token: exit %d %q; want 1 and \"authentication failed\"", code, serr)
			}
		}},
	}
	for _, role := range []string{"recv", "send"} {
		t.Run(role+"-listens", func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			var l *proc
			if role == "recv" {
				l = start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst)
			} else {
				l = start(t, "send", "--listen", "127.0.0.1:0", src)
			}
			addr := l.Addr(t)
			for i, s := range strays {
				s.run(t, addr, role, dst)
				l.WaitLog(t, "still waiting for a peer", i+1)
				if !l.Running() {
					t.Fatalf("the listener exited after the stray %s: %s", s.name, l.Log())
				}
			}
			var code int
			var serr string
			if role == "recv" {
				code, _, serr = run(t, "send", "--to", addr, src)
			} else {
				code, _, serr = run(t, "recv", "--from", addr, "--dir", dst)
			}
			lcode, lerr := l.Wait(t)
			t.Logf("listener:\n%s", lerr)
			if code != 0 || lcode != 0 {
				t.Fatalf("the real peer exited %d: %s; the listener %d", code, serr, lcode)
			}
			sameFile(t, filepath.Join(dst, "f.bin"), data)
			noGoInternal(t, lerr)
		})
	}
}
