package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// listTree returns the paths under dir, relative to it, sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if rel, _ := filepath.Rel(dir, p); rel != "." {
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(got)
	return got
}

// TestSendExclude sends a tree with --exclude given three times (a name at
// any depth, an anchored path, a directory only) over a real socket: only
// what no pattern matches arrives, and the summary counts only that.
func TestSendExclude(t *testing.T) {
	src := filepath.Join(t.TempDir(), "proj")
	for _, f := range []string{"main.go", "main.o", "lib/x.o", "lib/x.go", "build/out", "lib/build/keep", "tmp/t", "docs/tmp"} {
		p := filepath.Join(src, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", dst)
	code, out, stderr := run(t, "send", "--plaintext", "--json", "--to", r.Addr(t),
		"--exclude", "*.o", "--exclude", "proj/build", "--exclude", "tmp/", src)
	if code != 0 {
		t.Fatalf("send exited %d: %s", code, stderr)
	}
	if code, stderr := r.Wait(t); code != 0 {
		t.Fatalf("recv exited %d: %s", code, stderr)
	}
	want := []string{"proj", "proj/docs", "proj/docs/tmp", "proj/lib", "proj/lib/build", "proj/lib/build/keep", "proj/lib/x.go", "proj/main.go"}
	if got := listTree(t, dst); !slices.Equal(got, want) {
		t.Errorf("arrived %q\nwant    %q", got, want)
	}
	if res := parseResult(t, out); res.Files != 4 {
		t.Errorf("summary counts %d files, want 4", res.Files)
	}
}

// TestSendExcludeBadPattern: a pattern that cannot be parsed is a usage
// error (exit 2) naming it, before anything listens or connects.
func TestSendExcludeBadPattern(t *testing.T) {
	code, _, stderr := run(t, "send", "--to", "127.0.0.1:9", "--exclude", "a[", t.TempDir())
	if code != 2 || !strings.Contains(stderr, `"a["`) {
		t.Errorf("exit %d: %s; want 2 naming the pattern", code, stderr)
	}
}
