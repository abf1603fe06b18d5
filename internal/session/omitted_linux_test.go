package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// smallFile is the largest body the sender reads into its batches
// (sender.go); bigger ones go through the zerocopy engine.
const smallFile = 64 << 10

// outcome is what both ends of a session said.
type outcome struct {
	sent, got  session.Result
	serr, rerr error
	warns      []string // the sender's warnings
	dst        string   // where the receiver wrote
}

// mode is one way a test sends: a send method, in the clear or in TLS.
type mode struct {
	name string
	o    session.Options
}

// modes are the ways a test sends: Auto inside TLS (the default, where
// bodies are encrypted in user space whatever the method), and every send
// method in the clear, where the method decides how bodies move.
func modes() []mode {
	ms := []mode{{"tls", session.Options{}}}
	for _, m := range append([]zerocopy.Method{zerocopy.Auto}, zerocopy.SendMethods()...) {
		ms = append(ms, mode{"plaintext/" + m.String(), session.Options{Method: m, Plaintext: true}})
	}
	return ms
}

// run sends items over a loopback connection to a receiver writing under a new
// directory, and returns both ends' results.
func run(t *testing.T, items []tree.Item, o session.Options) outcome {
	t.Helper()
	out := outcome{dst: t.TempDir()}
	root, err := os.OpenRoot(out.dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, s := session.TCPPair(t)
	done := make(chan struct{})
	ro := session.Options{Verify: o.Verify, Plaintext: o.Plaintext}
	go func() {
		defer close(done)
		out.got, out.rerr = session.Receive(ctx, s, root, ro)
		s.Close()
	}()
	o.Warn = func(w string) { out.warns = append(out.warns, w) }
	o.Dialed = true
	out.sent, out.serr = session.Send(ctx, c, session.Items(items), o)
	c.Close()
	<-done
	return out
}

// check fails the test unless both ends ended the session as partial
// (session.ErrFailed), each naming exactly the failed paths (and nothing
// else) as failed, and every file and symlink item not failed arrived
// whole under the path it was sent as.
func (out outcome) check(t *testing.T, items []tree.Item, failed ...string) {
	t.Helper()
	for _, end := range []struct {
		name string
		err  error
		res  session.Result
	}{{"sender", out.serr, out.sent}, {"receiver", out.rerr, out.got}} {
		if !errors.Is(end.err, session.ErrFailed) {
			t.Errorf("%s: err = %v, want one matching session.ErrFailed", end.name, end.err)
		}
		if len(end.res.Failed) != len(failed) {
			t.Errorf("%s: failed %q, want %d: %q", end.name, end.res.Failed, len(failed), failed)
			continue
		}
		for i, f := range failed {
			if !strings.HasPrefix(end.res.Failed[i], f+": ") && !strings.HasPrefix(end.res.Failed[i], strconv.Quote(f)+": ") {
				t.Errorf("%s: failure %d is %q, want %s's", end.name, i, end.res.Failed[i], f)
			}
		}
	}
	files := 0
	for _, it := range items {
		q := filepath.Join(out.dst, filepath.FromSlash(it.Path))
		switch {
		case it.Kind == proto.KindOmitted:
		case slices.Contains(failed, it.Path):
			if _, err := os.Lstat(q); err == nil {
				t.Errorf("%s failed but arrived", it.Path)
			}
		case it.Kind == proto.KindFile:
			files++
			want, err := os.ReadFile(it.Local)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(q); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: did not arrive whole (%d of %d bytes, %v)", it.Path, len(got), len(want), err)
			}
		case it.Kind == proto.KindSymlink:
			if got, err := os.Readlink(q); err != nil || got != it.Target {
				t.Errorf("%s: link to %q (%v), want %q", it.Path, got, err, it.Target)
			}
		}
	}
	if out.sent.Files != files {
		t.Errorf("the sender counts %d files complete, want %d", out.sent.Files, files)
	}
}

// walk lists roots in this process, failing the test on an error.
func walk(t *testing.T, roots ...string) []tree.Item {
	t.Helper()
	items, err := tree.Walk(roots, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestHelperWalk is not a test: walkAsNobody runs the test binary with
// ZCOPY_SESSION_WALK_ROOTS set to have it walk those roots as the user
// nobody and print the items as JSON.
func TestHelperWalk(t *testing.T) {
	roots := os.Getenv("ZCOPY_SESSION_WALK_ROOTS")
	if roots == "" {
		t.Skip("the child process of walkAsNobody, not a test")
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := errors.Join(syscall.Setgroups(nil), syscall.Setgid(gid), syscall.Setuid(uid)); err != nil {
			t.Fatalf("becoming nobody: %v", err)
		}
	}
	items, err := tree.Walk(strings.Split(roots, "\x00"), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(items); err != nil {
		t.Fatal(err)
	}
	os.Exit(0) // before the test framework writes to stdout
}

// walkAsNobody walks roots in a child process that runs as the user
// nobody (root may read anything), so that what nobody may not read is
// out of the walk's reach.
func walkAsNobody(t *testing.T, roots ...string) []tree.Item {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWalk$")
	cmd.Env = append(os.Environ(), "ZCOPY_SESSION_WALK_ROOTS="+strings.Join(roots, "\x00"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("walking as nobody: %v\n%s%s", err, out, stderr.String())
	}
	var items []tree.Item
	if err := json.Unmarshal(out, &items); err != nil {
		t.Fatalf("walking as nobody gave %q: %v", out, err)
	}
	return items
}

// source makes a tree under a new directory that the user nobody can
// reach, with files small and large around whatever mk adds, and returns
// its top.
func source(t *testing.T, mk func(top string)) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	top := filepath.Join(dir, "src")
	for name, size := range map[string]int{"a": 100, "m/big": 3 * smallFile, "m/small": 10, "z/last": 5000} {
		p := filepath.Join(top, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte(name[:1]), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a", filepath.Join(top, "z/link")); err != nil {
		t.Fatal(err)
	}
	mk(top)
	return top
}

// must fails the test on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOmittedEntriesFailAtBothEnds: what the walk could not send (a
// directory it could not list, a name the protocol cannot carry) travels
// in the manifest as an omitted entry; both ends count it as failed and
// end as partial (session.ErrFailed), and the rest of the tree arrives,
// by every send method.
func TestOmittedEntriesFailAtBothEnds(t *testing.T) {
	const bs = `src/m/back\slash`
	tests := []struct {
		name   string
		mk     func(t *testing.T, top string)
		nobody bool     // walk as the user nobody
		failed []string // the omitted paths (nil: the walk's one omitted item)
		reason string   // in each omitted item's reason
	}{
		{"an unreadable directory mid-tree", func(t *testing.T, top string) {
			must(t, os.MkdirAll(filepath.Join(top, "m/locked/deeper"), 0o755))
			must(t, os.WriteFile(filepath.Join(top, "m/locked/secret"), []byte("secret"), 0o644))
			must(t, os.Chmod(filepath.Join(top, "m/locked"), 0))
			t.Cleanup(func() { os.Chmod(filepath.Join(top, "m/locked"), 0o755) })
		}, true, []string{"src/m/locked"}, "cannot list the directory: permission denied"},
		{"a directory that can be read but not searched", func(t *testing.T, top string) {
			must(t, os.MkdirAll(filepath.Join(top, "m/noexec"), 0o755))
			must(t, os.WriteFile(filepath.Join(top, "m/noexec/f"), []byte("f"), 0o644))
			must(t, os.Chmod(filepath.Join(top, "m/noexec"), 0o644))
			t.Cleanup(func() { os.Chmod(filepath.Join(top, "m/noexec"), 0o755) })
		}, true, []string{"src/m/noexec/f"}, "cannot stat it: permission denied"},
		{"a backslash in a file's name", func(t *testing.T, top string) {
			must(t, os.WriteFile(filepath.Join(top, filepath.FromSlash(bs[4:])), []byte("x"), 0o644))
		}, false, []string{bs}, "backslash"},
		{"a backslash in a directory's name", func(t *testing.T, top string) {
			must(t, os.MkdirAll(filepath.Join(top, filepath.FromSlash(bs[4:]), "inner"), 0o755))
			must(t, os.WriteFile(filepath.Join(top, filepath.FromSlash(bs[4:]), "inner/f"), []byte("x"), 0o644))
		}, false, []string{bs}, "backslash"},
		{"a path too long for the protocol", func(t *testing.T, top string) {
			// src/m/d…/…/l…: 4,107 bytes, the directories' own paths
			// short enough for the system to open them (3,906 bytes
			// below the temporary directory).
			r, err := os.OpenRoot(filepath.Join(top, "m"))
			must(t, err)
			for i := range 20 {
				name := strings.Repeat("d", 199)
				if i == 19 {
					name = name[:100]
				}
				must(t, r.Mkdir(name, 0o755))
				next, err := r.OpenRoot(name)
				r.Close()
				must(t, err)
				r = next
			}
			defer r.Close()
			must(t, r.WriteFile(strings.Repeat("l", 200), []byte("x"), 0o644))
			must(t, r.WriteFile("ok", []byte("this one fits"), 0o644))
		}, false, nil, "the path is 4107 bytes long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top := source(t, func(top string) { tc.mk(t, top) })
			var items []tree.Item
			if tc.nobody {
				items = walkAsNobody(t, top)
			} else {
				items = walk(t, top)
			}
			var omitted []string
			for _, it := range items {
				if it.Kind == proto.KindOmitted {
					omitted = append(omitted, it.Path)
					if !strings.Contains(it.Reason, tc.reason) {
						t.Errorf("%s omitted because %q, want %q in the reason", it.Path, it.Reason, tc.reason)
					}
				}
			}
			failed := tc.failed
			if failed == nil {
				failed = omitted
			}
			if !slices.Equal(omitted, failed) {
				t.Fatalf("the walk omitted %q, want %q", omitted, failed)
			}
			for _, md := range modes() {
				md.o.Verify = true
				out := run(t, items, md.o)
				t.Run(md.name, func(t *testing.T) { out.check(t, items, failed...) })
			}
		})
	}
}

// unreadable makes an item for the directory dir as if it were a regular
// file of the directory's size: opening it works, reading it fails
// (EISDIR), as a file on a failing disk would.
func unreadable(t *testing.T, dir, name string) tree.Item {
	t.Helper()
	fi, err := os.Lstat(dir)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	id := tree.FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	return tree.Item{Local: dir, ID: id, Entry: proto.Entry{
		Kind: proto.KindFile, Path: name, Mode: 0o644, MTime: fi.ModTime().UnixNano(), Size: fi.Size(), Source: id.Tag(),
	}}
}

// TestUnreadableFileFailsAlone: a source file that cannot be read when its
// turn comes fails alone, at both ends, padded and marked in its trailer;
// the session goes on and the files after it arrive. Every way a body
// leaves is tried: the small-file batches, and each engine method.
func TestUnreadableFileFailsAlone(t *testing.T) {
	const speed = "/sys/class/net/lo/speed"
	tests := []struct {
		name string
		// bad returns the items to send: the walk of top with an item
		// src/m/bad that cannot be read when its turn comes.
		bad func(t *testing.T, top string) []tree.Item
	}{
		{"a sysfs attribute whose read fails", func(t *testing.T, top string) []tree.Item {
			if _, err := os.ReadFile(speed); err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Skipf("%s is not a file whose reads fail here (%v)", speed, err)
			}
			it := walk(t, speed)[0]
			it.Path = "src/m/bad"
			return insert(walk(t, top), it)
		}},
		{"a directory opened as a file", func(t *testing.T, top string) []tree.Item {
			dir := filepath.Join(t.TempDir(), "dir")
			must(t, os.Mkdir(dir, 0o755))
			return insert(walk(t, top), unreadable(t, dir, "src/m/bad"))
		}},
		{"a directory opened as a file too big for the batches", func(t *testing.T, top string) []tree.Item {
			dir := filepath.Join(t.TempDir(), "dir")
			must(t, os.Mkdir(dir, 0o755))
			for i := 0; ; i++ {
				fi, err := os.Stat(dir)
				must(t, err)
				if fi.Size() > smallFile {
					break
				}
				if i == 5000 {
					t.Skipf("a directory of %d entries is %d bytes on this file system", i, fi.Size())
				}
				must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%0200d", i)), nil, 0o644))
			}
			return insert(walk(t, top), unreadable(t, dir, "src/m/bad"))
		}},
		{"a file that vanished after the walk", func(t *testing.T, top string) []tree.Item {
			must(t, os.WriteFile(filepath.Join(top, "m/bad"), []byte("gone soon"), 0o644))
			items := walk(t, top)
			must(t, os.Remove(filepath.Join(top, "m/bad")))
			return items
		}},
		{"a big file that shrank after the walk", func(t *testing.T, top string) []tree.Item {
			must(t, os.WriteFile(filepath.Join(top, "m/bad"), make([]byte, 4*smallFile), 0o644))
			items := walk(t, top)
			must(t, os.Truncate(filepath.Join(top, "m/bad"), smallFile))
			return items
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top := source(t, func(string) {})
			items := tc.bad(t, top)
			for _, md := range modes() {
				for _, verify := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/verify=%v", md.name, verify), func(t *testing.T) {
						o := md.o
						o.Verify = verify
						out := run(t, items, o)
						out.check(t, items, "src/m/bad")
						bad := items[slices.IndexFunc(items, func(it tree.Item) bool { return it.Path == "src/m/bad" })]
						if len(out.warns) == 0 || !strings.Contains(out.warns[0], bad.Local+": ") {
							t.Errorf("the sender warned %q; want a warning naming %s first", out.warns, bad.Local)
						}
						for _, w := range out.warns {
							if !strings.Contains(w, bad.Local) && !strings.HasPrefix(w, "src/m/bad: ") {
								t.Errorf("the sender warned %q, not about the bad file", w)
							}
						}
					})
				}
			}
		})
	}
}

// insert puts it into items after src/m (where a walk would list a file
// named src/m/bad).
func insert(items []tree.Item, it tree.Item) []tree.Item {
	i := slices.IndexFunc(items, func(x tree.Item) bool { return x.Path > "src/m/bad" })
	return slices.Insert(slices.Clone(items), i, it)
}

// TestConnectionErrorEndsTheSession: an error of the connection is not a
// file's; it ends the session (an error other than session.ErrFailed)
// rather than failing the file and going on.
func TestConnectionErrorEndsTheSession(t *testing.T) {
	top := source(t, func(top string) {
		must(t, os.WriteFile(filepath.Join(top, "m/huge"), make([]byte, 64<<20), 0o644))
	})
	items := walk(t, top)
	for _, m := range append([]zerocopy.Method{zerocopy.Auto}, zerocopy.SendMethods()...) {
		t.Run(m.String(), func(t *testing.T) {
			dst := t.TempDir()
			root, err := os.OpenRoot(dst)
			must(t, err)
			defer root.Close()
			c, s := session.TCPPair(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				// The receiver gives up as the first bytes of a body
				// arrive, and its connection closes under the sender.
				_, err := session.Receive(ctx, s, root, session.Options{Plaintext: true, Progress: func(p session.Progress) {
					if p.Done > 0 {
						cancel()
					}
				}})
				s.(*net.TCPConn).SetLinger(0)
				s.Close()
				done <- err
			}()
			sent, serr := session.Send(context.Background(), c, session.Items(items), session.Options{Method: m, Plaintext: true, Dialed: true, IdleTimeout: 10 * time.Second})
			<-done
			if serr == nil || errors.Is(serr, session.ErrFailed) {
				t.Fatalf("Send = %v with %d bytes sent, want the session ended by the connection's error", serr, sent.BytesSent)
			}
		})
	}
}
