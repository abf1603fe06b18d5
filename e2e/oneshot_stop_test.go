package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zcopy/zcopy/internal/testbin"
)

// TestOneShotStoppedBeforeAPeerFails: a one-shot listener stopped by a
// signal before any peer completed its handshake (here after a stray) has
// moved nothing it was asked to, so it says so and exits as a process
// ended by that signal: 130 for SIGINT (Ctrl-C), 143 for SIGTERM; not 0.
func TestOneShotStoppedBeforeAPeerFails(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("never sent"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"recv", "--listen", "127.0.0.1:0", "--dir", t.TempDir()},
		{"send", "--listen", "127.0.0.1:0", src},
	} {
		for _, sig := range []struct {
			name string
			sig  syscall.Signal
			code int
		}{{"SIGINT", syscall.SIGINT, 130}, {"SIGTERM", syscall.SIGTERM, 143}} {
			t.Run(args[0]+"/"+sig.name, func(t *testing.T) {
				p := testbin.Start(t, exec.Command(zcopyBin, args...))
				c, err := net.Dial("tcp", p.Addr(t))
				if err != nil {
					t.Fatal(err)
				}
				c.Close() // a stray: connects, says nothing
				strayLogged(t, p)
				p.Cmd.Process.Signal(sig.sig)
				code, log := p.Wait(t)
				if code != sig.code || !strings.Contains(log, "nothing was transferred") {
					t.Errorf("exit %d after %s with no transfer; want %d and a message saying nothing was transferred:\n%s", code, sig.name, sig.code, log)
				}
			})
		}
	}
}
