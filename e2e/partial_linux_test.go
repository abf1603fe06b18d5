package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/zcopy/zcopy/internal/testbin"
)

// exitPartial is the exit status of a transfer that ran to its end with
// entries that did not arrive (rsync's code), at both ends.
const exitPartial = 23

// partialSource returns a new directory "src" in a directory the user
// nobody can reach, holding small files, a large one and a symlink.
func partialSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(dir, "src")
	for name, size := range map[string]int{"a.txt": 100, "m/big.bin": 5 << 20, "m/small": 10, "z/last": 70 << 10} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		randomFile(t, filepath.Join(src, filepath.Dir(name)), filepath.Base(name), size)
	}
	if err := os.Symlink("a.txt", filepath.Join(src, "z/link")); err != nil {
		t.Fatal(err)
	}
	return src
}

// nobodyCommand returns a command that runs zcopy with args as the user
// nobody (the process is root, which reads anything; not as root, as the
// user running the test). The binary is copied where nobody may run it.
func nobodyCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		return exec.Command(zcopyBin, args...)
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "zcopy")
	b, err := os.ReadFile(zcopyBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	return cmd
}

// lock sets p's mode to mode, and back at the end of the test so that the
// clean-up can remove it.
func lock(t *testing.T, p string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(p, 0o755) })
}

// partialEnd is what one end of a transfer did: its exit status, the one
// it should have, its stderr and the failures its results list.
type partialEnd struct {
	code, want int
	stderr     string
	res        result
}

// partialTransfer runs one transfer of src to a new directory, push or
// pull over streams connections, with the sender's command made by
// sender, and returns the directory and both ends. Over one stream the
// serving end serves that one connection and both should exit 23; over
// several it must serve with --keep, and exits 0 when stopped, having
// logged each stream's outcome.
func partialTransfer(t *testing.T, sender func(args ...string) *exec.Cmd, mode string, streams int, src string) (dst string, s, r partialEnd) {
	t.Helper()
	dst = t.TempDir()
	n := fmt.Sprint(streams)
	var keep []string
	s.want, r.want = exitPartial, exitPartial
	var sp, rp, server *proc
	if mode == "push" {
		if streams > 1 {
			keep, r.want = []string{"--keep"}, 0
		}
		rp = start(t, append([]string{"recv", "--listen", "127.0.0.1:0", "--dir", dst, "--json"}, keep...)...)
		sp = testbin.Start(t, sender("send", "--to", rp.Addr(t), "--json", "--streams", n, src))
		server = rp
	} else {
		if streams > 1 {
			keep, s.want = []string{"--keep"}, 0
		}
		sp = testbin.Start(t, sender(append([]string{"send", "--listen", "127.0.0.1:0", "--json"}, append(keep, src)...)...))
		rp = start(t, "recv", "--from", sp.Addr(t), "--dir", dst, "--json", "--streams", n)
		server = sp
	}
	ends := []struct {
		p   *proc
		end *partialEnd
	}{{sp, &s}, {rp, &r}}
	if server == ends[0].p { // the opener first, then the server
		ends[0], ends[1] = ends[1], ends[0]
	}
	for i, e := range ends {
		if i == 1 && keep != nil {
			e.p.Cmd.Process.Signal(syscall.SIGTERM)
		}
		e.end.code, e.end.stderr = e.p.Wait(t)
		// The end that opened the streams prints one result for all, a
		// server one for each stream: add up their failures.
		for _, l := range strings.Split(strings.TrimSpace(e.p.Stdout.String()), "\n") {
			if l != "" {
				e.end.res.Failed = append(e.end.res.Failed, parseResult(t, l).Failed...)
			}
		}
	}
	return dst, s, r
}

// checkPartial fails the test unless both ends exited with the status
// they should (see partialTransfer), each naming every path in failed (and no other) among its
// failures and on stderr, and everything else under src arrived intact,
// except the paths in absent (relative to src's parent), which must not,
// and those in unseen, which the test checks itself.
func checkPartial(t *testing.T, src, dst string, s, r partialEnd, failed, absent []string, unseen ...string) {
	t.Helper()
	for name, e := range map[string]partialEnd{"send": s, "recv": r} {
		if e.code != e.want {
			t.Errorf("%s exited %d, want %d: %s", name, e.code, e.want, e.stderr)
		}
		if len(e.res.Failed) != len(failed) {
			t.Errorf("%s's result lists failures %q, want %d: %q", name, e.res.Failed, len(failed), failed)
		}
		for _, f := range failed {
			if !strings.Contains(e.stderr, f) || !strings.Contains(strings.Join(e.res.Failed, "\n"), f) {
				t.Errorf("%s does not name %s as failed: result %q, stderr:\n%s", name, f, e.res.Failed, e.stderr)
			}
		}
	}
	skip := map[string]bool{}
	for _, u := range unseen {
		skip[u] = true
	}
	for _, a := range absent {
		skip[a] = true
		if _, err := os.Lstat(filepath.Join(dst, a)); err == nil {
			t.Errorf("%s arrived, though it could not be sent", a)
		}
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(filepath.Dir(src), p)
		if skip[rel] {
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if err != nil {
			return err
		}
		q := filepath.Join(dst, rel)
		switch {
		case d.Type().IsRegular():
			if _, err := testbin.CompareFiles(q, p); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
		case d.Type()&fs.ModeSymlink != 0:
			want, _ := os.Readlink(p)
			if got, err := os.Readlink(q); err != nil || got != want {
				t.Errorf("%s: link to %q (%v), want %q", rel, got, err, want)
			}
		case d.IsDir():
			if fi, err := os.Lstat(q); err != nil || !fi.IsDir() {
				t.Errorf("%s: not a directory at the receiver (%v)", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPartialUnreadableDirectory: a directory the sender may not list is
// named in the manifest as not sent; the rest of the tree arrives, and
// both ends exit 23, pushed or pulled, over one stream or several.
func TestPartialUnreadableDirectory(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		streams int
	}{{"push", 1}, {"push", 3}, {"pull", 1}, {"pull", 2}} {
		t.Run(fmt.Sprintf("%s-%d", tc.mode, tc.streams), func(t *testing.T) {
			src := partialSource(t)
			locked := filepath.Join(src, "m/locked")
			if err := os.MkdirAll(filepath.Join(locked, "deeper"), 0o755); err != nil {
				t.Fatal(err)
			}
			randomFile(t, locked, "secret", 1000)
			lock(t, locked, 0)
			sender := func(args ...string) *exec.Cmd { return nobodyCommand(t, args...) }
			dst, s, r := partialTransfer(t, sender, tc.mode, tc.streams, src)
			checkPartial(t, src, dst, s, r, []string{"src/m/locked"}, []string{"src/m/locked"})
			if !strings.Contains(s.stderr, "cannot list the directory: permission denied") {
				t.Errorf("the sender does not say why it left src/m/locked out:\n%s", s.stderr)
			}
		})
	}
}

// TestPartialUnsendableNames: names the protocol cannot carry (a
// backslash, a path over 4096 bytes) are named as not sent; both ends exit
// 23 and the rest arrives.
func TestPartialUnsendableNames(t *testing.T) {
	tests := []struct {
		name   string
		mk     func(t *testing.T, src string) // returns nothing: adds to src
		failed []string                       // as named at both ends
		absent []string                       // relative to src's parent
	}{
		{"a backslash in a file's name", func(t *testing.T, src string) {
			randomFile(t, filepath.Join(src, "m"), `back\slash`, 10)
		}, []string{`src/m/back\\slash`}, []string{`src/m/back\slash`}},
		{"a backslash in a directory's name", func(t *testing.T, src string) {
			d := filepath.Join(src, `m/dir\name`)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			randomFile(t, d, "inside", 10)
		}, []string{`src/m/dir\\name`}, []string{`src/m/dir\name`}},
		{"a path over 4096 bytes", func(t *testing.T, src string) {
			// src/m/d…/…/l… is 4,107 bytes; each directory's own path
			// is short enough for the system to open it.
			r := deepChain(t, filepath.Join(src, "m"), true)
			defer r.Close()
			for _, f := range []string{strings.Repeat("l", 200), "fits"} {
				if err := r.WriteFile(f, []byte(f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"the path is 4107 bytes long; the protocol carries at most 4096"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := partialSource(t)
			tc.mk(t, src)
			sender := func(args ...string) *exec.Cmd { return exec.Command(zcopyBin, args...) }
			dst, s, r := partialTransfer(t, sender, "push", 1, src)
			var unseen []string
			if tc.absent == nil {
				// The long path: WalkDir cannot reach the deepest
				// directories by name. The file that fits arrived; the
				// one that does not, not.
				unseen = []string{"src/m/" + strings.Repeat("d", 199)}
				r := deepChain(t, filepath.Join(dst, "src/m"), false)
				defer r.Close()
				if b, err := r.ReadFile("fits"); err != nil || string(b) != "fits" {
					t.Errorf("the file at 3,911 bytes did not arrive: %q, %v", b, err)
				}
				if _, err := r.Lstat(strings.Repeat("l", 200)); err == nil {
					t.Error("the file at 4,107 bytes arrived")
				}
			}
			checkPartial(t, src, dst, s, r, tc.failed, tc.absent, unseen...)
		})
	}
}

// deepChain makes (or with mk false, opens) under dir a chain of 20
// directories, 3,900 bytes of path, one level at a time, and returns the
// last, open.
func deepChain(t *testing.T, dir string, mk bool) *os.Root {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		name := strings.Repeat("d", 199)
		if i == 19 {
			name = name[:100]
		}
		if mk {
			if err := r.Mkdir(name, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		next, err := r.OpenRoot(name)
		r.Close()
		if err != nil {
			t.Fatalf("level %d of the deep directories: %v", i+1, err)
		}
		r = next
	}
	return r
}

// TestPartialUnreadableFile: a file that cannot be read when its turn
// comes (a sysfs attribute whose reads fail; a file only its owner may
// read, sent by nobody) fails alone, by every method; the files after it
// arrive and both ends exit 23. Inside TLS only auto and readwrite can
// send, so they run in both modes and the zero-copy methods in plaintext.
func TestPartialUnreadableFile(t *testing.T) {
	const speed = "/sys/class/net/lo/speed"
	for _, meth := range []string{"auto", "readwrite", "sendfile", "splice", "mmap"} {
		for _, m := range modes {
			if m.name != "plaintext" && meth != "auto" && meth != "readwrite" {
				continue
			}
			t.Run(meth+"/"+m.name, func(t *testing.T) { partialUnreadableFile(t, speed, meth, m) })
		}
	}
}

func partialUnreadableFile(t *testing.T, speed, meth string, m mode) {
	src := partialSource(t)
	randomFile(t, filepath.Join(src, "m"), "private", 200<<10)
	lock(t, filepath.Join(src, "m/private"), 0)
	failed := []string{"src/m/private"}
	roots := []string{src}
	if _, err := os.ReadFile(speed); err != nil && !errors.Is(err, fs.ErrNotExist) {
		roots = append(roots, speed)
		failed = append(failed, "speed")
	} else {
		t.Logf("%s reads (%v): left out of the test", speed, err)
	}
	dst := t.TempDir()
	rp := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--json")...)
	sp := testbin.Start(t, nobodyCommand(t, m.args("send", append([]string{"--to", rp.Addr(t), "--json", "--method", meth}, roots...)...)...))
	s, r := partialEnd{want: exitPartial}, partialEnd{want: exitPartial}
	s.code, s.stderr = sp.Wait(t)
	r.code, r.stderr = rp.Wait(t)
	s.res, r.res = parseResult(t, sp.Stdout.String()), parseResult(t, rp.Stdout.String())
	checkPartial(t, src, dst, s, r, failed, []string{"src/m/private", "speed"})
}

// TestSpecialFilesAreNotFailures: a FIFO or socket inside a tree is left
// out with a warning, as rsync without -D and scp do, and is not a
// failure: both ends exit 0.
func TestSpecialFilesAreNotFailures(t *testing.T) {
	src := partialSource(t)
	if err := syscall.Mkfifo(filepath.Join(src, "m/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(src, "m/socket"), syscall.S_IFSOCK|0o644, 0); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	rp := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst)
	code, _, stderr := run(t, "send", "--to", rp.Addr(t), src)
	rcode, rstderr := rp.Wait(t)
	if code != 0 || rcode != 0 {
		t.Fatalf("send exited %d, recv %d; want 0 and 0\nsend: %s\nrecv: %s", code, rcode, stderr, rstderr)
	}
	for _, name := range []string{"fifo", "socket"} {
		if !strings.Contains(stderr, filepath.Join(src, "m", name)+": left out") {
			t.Errorf("the sender does not warn about m/%s:\n%s", name, stderr)
		}
		if _, err := os.Lstat(filepath.Join(dst, "src/m", name)); err == nil {
			t.Errorf("m/%s arrived", name)
		}
	}
}

// TestPartialMissingRootFailsFast: a path named on the command line that
// is not there is an error at once (exit 1), before any connection, not a
// partial transfer.
func TestPartialMissingRootFailsFast(t *testing.T) {
	src := partialSource(t)
	missing := filepath.Join(t.TempDir(), "nope")
	code, _, stderr := run(t, "send", "--listen", "127.0.0.1:0", src, missing)
	if code != 1 || !strings.Contains(stderr, "nope: no such file or directory") || strings.Contains(stderr, "listening") {
		t.Errorf("exit %d, stderr %q; want 1 naming the path, without listening", code, stderr)
	}
}
