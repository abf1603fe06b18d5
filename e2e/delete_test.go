package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestSendDelete: send --delete to recv --delete removes under the tree
// sent what the sender no longer has, and the receiver says so; a
// receiver started without --delete refuses such a sender at once at both
// ends, removing nothing; --delete with --exclude or --streams is a usage
// error.
func TestSendDelete(t *testing.T) {
	src := filepath.Join(t.TempDir(), "t")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644)
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "t", "old-dir"), 0o755)
	os.WriteFile(filepath.Join(dst, "t", "old"), nil, 0o644)
	os.WriteFile(filepath.Join(dst, "beside"), nil, 0o644)

	r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", dst)
	code, _, stderr := run(t, "send", "--plaintext", "--delete", "--to", r.Addr(t), src)
	// The one-shot listener waits on for another peer: stop it.
	r.Cmd.Process.Signal(syscall.SIGTERM)
	r.Wait(t)
	if code == 0 || !strings.Contains(stderr, "--delete too") {
		t.Errorf("to a receiver without --delete: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dst, "t", "old")); err != nil {
		t.Fatalf("removed without the receiver's consent: %v", err)
	}

	r = start(t, "recv", "--plaintext", "--delete", "--listen", "127.0.0.1:0", "--dir", dst)
	code, _, stderr = run(t, "send", "--plaintext", "--delete", "--to", r.Addr(t), src)
	rc, rerr := r.Wait(t)
	if code != 0 || rc != 0 {
		t.Fatalf("exits %d and %d: %s / %s", code, rc, stderr, rerr)
	}
	if got, want := listTree(t, dst), []string{"beside", "t", "t/a"}; !slices.Equal(got, want) {
		t.Errorf("left %q, want %q", got, want)
	}
	if !strings.Contains(rerr, "t/old: deleted (--delete)") {
		t.Errorf("the receiver did not say what it removed: %s", rerr)
	}

	for _, args := range [][]string{{"--exclude", "x"}, {"--streams", "2"}} {
		code, _, stderr := run(t, append(append([]string{"send", "--delete", "--to", "127.0.0.1:9"}, args...), src)...)
		if code != 2 || !strings.Contains(stderr, "--delete") {
			t.Errorf("send --delete %v: exit %d, %s; want a usage error", args, code, stderr)
		}
	}
}
