package logfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReopenAfterRotation: logrotate renames the file and signals; writes
// before the reopen land in the renamed file, writes after it in a new file
// under the original name.
func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("one\n"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("two\n"))
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("three\n"))
	for _, c := range []struct{ name, want string }{{path + ".1", "one\ntwo\n"}, {path, "three\n"}} {
		b, err := os.ReadFile(c.name)
		if err != nil || string(b) != c.want {
			t.Errorf("%s holds %q (%v), want %q", filepath.Base(c.name), b, err, c.want)
		}
	}
}

// TestReopenFailureKeepsWriting: a path that cannot be opened again leaves
// the writes going to the old file.
func TestReopenFailureKeepsWriting(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	os.Mkdir(sub, 0o755)
	path := filepath.Join(sub, "access.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Rename(sub, sub+".old")
	if err := l.Reopen(); err == nil {
		t.Fatalf("Reopen of a path in a directory that is gone succeeded")
	}
	l.Write([]byte("still\n"))
	if b, _ := os.ReadFile(filepath.Join(sub+".old", "access.log")); string(b) != "still\n" {
		t.Errorf("after a failed reopen the old file holds %q, want the write", b)
	}
}
