package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcopy/zcopy/internal/testbin"
)

// openPTY returns a new pseudo-terminal's master and slave ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 160}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestProgressOnTerminal: with stderr on a terminal, the end that opened
// the transfer draws a progress bar that shows the bytes done of the
// total, the rate, the time left, the files done of the total and the
// file moving now; the sender in a push, the receiver in a pull. A relay
// holds the transfer to about 8 MiB/s, so that it lasts over two seconds
// whatever the machine's speed (20 MiB: more than the socket buffers on
// the way take, so the sender too is held), and the bar is drawn (every
// 200 ms) in the middle.
func TestProgressOnTerminal(t *testing.T) {
	src := filepath.Join(t.TempDir(), "tree")
	os.Mkdir(src, 0o755)
	for i := range 20 {
		randomFile(t, src, fmt.Sprintf("f%02d", i), 1<<20)
	}
	bar := regexp.MustCompile(`\|  (send|recv) [0-9.]+ [KM]iB/20\.0 MiB, [0-9.]+ [KMG]iB/s, [0-9hms]+ left, [0-9]+/20 files, tree/f[0-9]{2}`)
	for _, way := range []string{"push", "pull"} {
		t.Run(way, func(t *testing.T) {
			m := modes[1]
			dst := t.TempDir()
			var server *proc
			var opener *exec.Cmd
			if way == "push" {
				server = start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)
				rl := testbin.NewRelay(t, server.Addr(t), testbin.Push)
				rl.Throttle(8 << 20)
				opener = exec.Command(zcopyBin, m.args("send", "--to", rl.Addr(), src)...)
			} else {
				server = start(t, m.args("send", "--listen", "127.0.0.1:0", src)...)
				rl := testbin.NewRelay(t, server.Addr(t), testbin.Pull)
				rl.Throttle(8 << 20)
				opener = exec.Command(zcopyBin, m.args("recv", "--from", rl.Addr(), "--dir", dst)...)
			}
			ptm, pts := openPTY(t)
			opener.Stderr = pts
			if err := opener.Start(); err != nil {
				t.Fatal(err)
			}
			pts.Close() // the child holds it now: its end closes the terminal
			var screen bytes.Buffer
			read := make(chan struct{})
			go func() {
				screen.ReadFrom(ptm) // until EIO, once the child has exited
				close(read)
			}()
			err := opener.Wait()
			<-read
			if err != nil {
				t.Fatalf("%s: %v\n%q", way, err, screen.String())
			}
			if !bar.MatchString(screen.String()) {
				t.Errorf("the terminal does not show a progress bar (%s):\n%q", bar, screen.String())
			}
			if code, log := server.Wait(t); code != 0 {
				t.Fatalf("the other end exited %d:\n%s", code, log)
			}
			sameTree(t, src, filepath.Join(dst, "tree"))
		})
	}
}
