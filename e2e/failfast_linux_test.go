package e2e

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBadArgumentFailsBeforeSocket: a bad argument is found before zcopy
// listens or connects (issue 18). Each of these used to listen first and
// fail only when the peer arrived, so nc got 0 bytes and exited 0. Now
// each exits non-zero at once, with a message that names the argument:
// the command returns with no peer ever started, says nothing of
// listening, and a listener of the test's own, given as --to or --from,
// has no connection queued when it has exited.
func TestBadArgumentFailsBeforeSocket(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	type tc struct {
		name string
		args []string // DIAL stands for the test's listener
		want string
	}
	cases := []tc{
		{"send-raw-listen-dir", []string{"send", "--raw", "--listen", "127.0.0.1:0", dir}, "is a directory"},
		{"send-raw-to-dir", []string{"send", "--raw", "--to", "DIAL", dir}, "is a directory"},
		{"recv-raw-listen-o-dir", []string{"recv", "--raw", "--listen", "127.0.0.1:0", "-o", dir}, "is a directory"},
		{"recv-raw-from-o-dir", []string{"recv", "--raw", "--from", "DIAL", "-o", dir}, "is a directory"},
		{"recv-raw-o-in-missing-dir", []string{"recv", "--raw", "--listen", "127.0.0.1:0", "-o", filepath.Join(missing, "out")}, "cannot write in"},
		{"recv-raw-o-in-proc", []string{"recv", "--raw", "--listen", "127.0.0.1:0", "-o", "/proc/zcopy-out"}, "cannot write in /proc"},
		{"recv-dir-is-file", []string{"recv", "--listen", "127.0.0.1:0", "--dir", file}, "--dir " + file + ": cannot create it: not a directory"},
		{"recv-dir-under-file", []string{"recv", "--listen", "127.0.0.1:0", "--dir", filepath.Join(file, "sub")}, "not a directory"},
		{"recv-dir-proc", []string{"recv", "--listen", "127.0.0.1:0", "--dir", "/proc/self"}, "--dir /proc/self: cannot write there"},
		{"recv-from-dir-proc", []string{"recv", "--from", "DIAL", "--dir", "/proc/self"}, "cannot write there"},
		{"send-listen-missing", []string{"send", "--listen", "127.0.0.1:0", missing}, missing + ": no such file or directory"},
		{"send-to-missing", []string{"send", "--to", "DIAL", missing}, missing + ": no such file or directory"},
		{"send-raw-listen-missing", []string{"send", "--raw", "--listen", "127.0.0.1:0", missing}, missing + ": no such file or directory"},
	}
	if os.Geteuid() != 0 { // root writes through mode bits
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		cases = append(cases,
			tc{"recv-dir-read-only", []string{"recv", "--listen", "127.0.0.1:0", "--dir", ro}, "permission denied"},
			tc{"recv-raw-o-in-read-only", []string{"recv", "--raw", "--listen", "127.0.0.1:0", "-o", filepath.Join(ro, "out")}, "permission denied"})
	}
	// The probe itself: a good raw send of a small file connects, and
	// its connection is found queued.
	t.Run("control-connects", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if code, _, stderr := run(t, "send", "--raw", "-q", "--to", ln.Addr().String(), file); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !queued(t, ln) {
			t.Fatal("a send that connected left no connection queued: the probe sees nothing")
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			args := append([]string(nil), c.args...)
			for i, a := range args {
				if a == "DIAL" {
					args[i] = ln.Addr().String()
				}
			}
			code, _, stderr := run(t, args...)
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want non-zero and %q", code, stderr, c.want)
			}
			if strings.Contains(stderr, "listening") {
				t.Errorf("it listened before it failed: %q", stderr)
			}
			for _, internal := range []string{"mkdirat", "lstat ", "openat"} {
				if strings.Contains(stderr, internal) {
					t.Errorf("stderr shows Go-internal %q: %q", internal, stderr)
				}
			}
			if queued(t, ln) {
				t.Error("it connected before it failed")
			}
		})
	}
}

// queued reports whether ln has a connection waiting to be accepted, by a
// non-blocking accept(2) on its socket (the listener's descriptor is
// non-blocking): the connection of a process that has exited stays in the
// queue, established, so this needs no waiting.
func queued(t testing.TB, ln net.Listener) bool {
	t.Helper()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got bool
	var aerr error
	if err := rc.Control(func(fd uintptr) {
		nfd, _, err := unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
		if err == nil {
			got = true
			unix.Close(nfd)
			return
		}
		if !errors.Is(err, syscall.EAGAIN) {
			aerr = err
		}
	}); err != nil {
		t.Fatal(err)
	}
	if aerr != nil {
		t.Fatal(aerr)
	}
	return got
}
