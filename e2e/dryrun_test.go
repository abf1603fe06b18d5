package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSendDryRun runs send -n against a real receiver that has part of
// the tree: stdout says, an entry a line, what would be sent, skipped or
// refused, the exit status is the one a real run would have (23: a file
// would be refused), and nothing under --dir changes. A receiver started
// with --dry-run writes nothing, not even its --dir, and refuses a sender
// without -n, at both ends.
func TestSendDryRun(t *testing.T) {
	src := filepath.Join(t.TempDir(), "proj")
	mt := time.Unix(1_700_000_000, 0)
	for _, f := range []string{"same", "differs", "sub/new", "skip.o"} {
		p := filepath.Join(src, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f), 0o644)
		os.Chtimes(p, mt, mt)
	}
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "proj"), 0o755)
	os.WriteFile(filepath.Join(dst, "proj", "same"), []byte("same"), 0o644)
	os.Chtimes(filepath.Join(dst, "proj", "same"), mt, mt)
	os.WriteFile(filepath.Join(dst, "proj", "differs"), []byte("old"), 0o644)
	before := listTree(t, dst)

	r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", dst)
	code, out, stderr := run(t, "send", "--plaintext", "-n", "--exclude", "*.o", "--to", r.Addr(t), src)
	r.Wait(t)
	if code != 23 {
		t.Errorf("send -n exited %d, want 23 (a real run would refuse a file): %s", code, stderr)
	}
	want := []string{
		"dir     proj/",
		"refuse  proj/differs: exists and differs (zcopy recv --overwrite replaces it)",
		"skip    proj/same (already there: same size and mtime)",
		"dir     proj/sub/",
		"send    proj/sub/new (7 B)",
	}
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, want) {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if !strings.Contains(stderr, "dry run, nothing sent or written: would send 1 of 2 files, 1 unchanged (already there), 1 would not arrive") {
		t.Errorf("no dry-run summary in %q", stderr)
	}
	if after := listTree(t, dst); !slices.Equal(after, before) {
		t.Errorf("the dry run changed --dir: %q, was %q", after, before)
	}

	missing := filepath.Join(t.TempDir(), "not", "yet")
	r = start(t, "recv", "--plaintext", "--dry-run", "--listen", "127.0.0.1:0", "--dir", missing)
	code, out, stderr = run(t, "send", "--plaintext", "--dry-run", "--to", r.Addr(t), src)
	if rc, rerr := r.Wait(t); code != 0 || rc != 0 {
		t.Errorf("send -n to recv --dry-run: exits %d and %d: %s %s", code, rc, stderr, rerr)
	}
	if !strings.Contains(out, "send    proj/differs") {
		t.Errorf("into a directory that does not exist, everything is sent: %s", out)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("recv --dry-run made its --dir: %v", err)
	}

	r = start(t, "recv", "--plaintext", "--dry-run", "--listen", "127.0.0.1:0", "--dir", missing)
	code, _, stderr = run(t, "send", "--plaintext", "--to", r.Addr(t), src)
	r.Cmd.Process.Signal(syscall.SIGTERM)
	r.Wait(t)
	if code == 0 || !strings.Contains(stderr, "--dry-run") {
		t.Errorf("a real send to recv --dry-run: exit %d, %q; want a refusal naming --dry-run", code, stderr)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("recv --dry-run made its --dir: %v", err)
	}
}
