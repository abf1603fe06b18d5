package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestSSHTreeFlags: the one-command push `zcopy send FLAGS PATH HOST:DIR`
// starts its far receiver with what these flags need of it, through a
// real sshd: -n (the far end only looks, nothing is written), --delete
// (the far end allows it: what the sender no longer has goes) and --owner
// (the far end, root here, gives the files the sender's numeric owner),
// beside --exclude and -H, which are the sender's alone.
func TestSSHTreeFlags(t *testing.T) {
	s := startSSHD(t)
	src := filepath.Join(t.TempDir(), "proj")
	for _, p := range []string{"keep.txt", "skip.o", "sub/a"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(src, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(src, "sub", "a"), filepath.Join(src, "sub", "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(filepath.Join(src, "keep.txt"), 4321, 4322); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "proj"), 0o755)
	os.WriteFile(filepath.Join(dst, "proj", "stale"), []byte("old"), 0o644)
	send := func(args ...string) (int, string, string) {
		t.Helper()
		return run(t, append(append([]string{"send"}, s.args()...), args...)...)
	}

	// -n: a plan on stdout, nothing written at the far end.
	code, out, serr := send("-n", "--exclude", "*.o", src, "127.0.0.1:"+dst)
	if code != 0 || !strings.Contains(out, "send    proj/keep.txt") || strings.Contains(out, "skip.o") {
		t.Fatalf("-n: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, serr)
	}
	if got := listTree(t, dst); !slices.Equal(got, []string{"proj", "proj/stale"}) {
		t.Fatalf("-n wrote at the far end: %q", got)
	}
	s.noneLeft(t)

	// The real run.
	code, _, serr = send("--delete", "--owner", "-H", src, "127.0.0.1:"+dst)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, serr)
	}
	want := []string{"proj", "proj/keep.txt", "proj/skip.o", "proj/sub", "proj/sub/a", "proj/sub/b"}
	if got := listTree(t, dst); !slices.Equal(got, want) {
		t.Errorf("at the far end: %q, want %q (stale deleted)", got, want)
	}
	a, _ := os.Stat(filepath.Join(dst, "proj", "sub", "a"))
	b, _ := os.Stat(filepath.Join(dst, "proj", "sub", "b"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Errorf("sub/a and sub/b did not arrive as one file with two names")
	}
	if fi, err := os.Lstat(filepath.Join(dst, "proj", "keep.txt")); err != nil {
		t.Error(err)
	} else if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4321 || st.Gid != 4322 {
		t.Errorf("keep.txt arrived owned by %d:%d, want 4321:4322 (--owner)", st.Uid, st.Gid)
	}
	s.noneLeft(t)
}
