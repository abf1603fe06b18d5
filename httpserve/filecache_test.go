package httpserve

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFileCache: the open-file cache serves a name from its descriptor
// while the name leads to the same version of the same file, takes a new
// representation when the file changes in place, opens afresh when the name
// leads elsewhere, never caches a name ending in a symbolic link, and stays
// within its bound, closing a dropped descriptor only after its last user.
func TestFileCache(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	c := newFileCache(root, dir, 2)
	defer c.close()
	open := func(name string) *cachedFile {
		t.Helper()
		e, err := c.open(name)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		return e
	}
	closed := func(e *cachedFile) bool {
		_, err := e.f.Stat()
		return errors.Is(err, fs.ErrClosed)
	}

	write("a", "version 1")
	e1 := open("a")
	e1.release()
	t.Run("hit", func(t *testing.T) {
		e := open("a")
		defer e.release()
		if e != e1 {
			t.Errorf("a second open of an unchanged file opened it again")
		}
	})
	t.Run("changed-in-place", func(t *testing.T) {
		rep := e1.rep()
		f, _ := os.OpenFile(filepath.Join(dir, "a"), os.O_WRONLY|os.O_APPEND, 0)
		f.WriteString(", grown")
		f.Close()
		e := open("a")
		defer e.release()
		e1 = e
		if got := e.rep(); got == rep || got.size != int64(len("version 1, grown")) || got.etag == rep.etag {
			t.Errorf("representation after growth: size %d, etag %s (before %s); want a new one of %d bytes", got.size, got.etag, rep.etag, len("version 1, grown"))
		}
	})
	t.Run("touched", func(t *testing.T) {
		rep := e1.rep()
		later := rep.modTime.Add(time.Hour)
		os.Chtimes(filepath.Join(dir, "a"), later, later)
		e := open("a")
		defer e.release()
		if got := e.rep(); !got.modTime.Equal(later) || got.lastModified == rep.lastModified {
			t.Errorf("Last-Modified after a touch: %s; want %s", got.lastModified, later.UTC().Format(time.RFC1123))
		}
	})
	t.Run("chmod-reopens", func(t *testing.T) {
		// A chmod (or chown) moves only the change time; the name is opened
		// afresh, so the permissions of a fresh open apply (a file made
		// unreadable is answered 403, not served from the descriptor).
		before := open("a")
		before.release()
		if err := os.Chmod(filepath.Join(dir, "a"), 0o600); err != nil {
			t.Fatal(err)
		}
		e := open("a")
		defer e.release()
		if e == before {
			t.Errorf("after a chmod the file was served from the cached descriptor; want it opened afresh")
		}
	})
	t.Run("renamed-over", func(t *testing.T) {
		write("a.new", "version 2")
		if err := os.Rename(filepath.Join(dir, "a.new"), filepath.Join(dir, "a")); err != nil {
			t.Fatal(err)
		}
		e := open("a")
		defer e.release()
		if e == e1 || e.rep().size != int64(len("version 2")) {
			t.Errorf("a file renamed over the name was served from the old descriptor")
		}
		if !closed(e1) {
			t.Errorf("the replaced file's descriptor is still open with no user")
		}
	})
	t.Run("deleted", func(t *testing.T) {
		os.Remove(filepath.Join(dir, "a"))
		if e, err := c.open("a"); !errors.Is(err, fs.ErrNotExist) {
			if e != nil {
				e.release()
			}
			t.Errorf("open of a deleted file: %v; want it not to exist", err)
		}
	})
	t.Run("symlink-not-cached", func(t *testing.T) {
		write("target", "t")
		if err := os.Symlink("target", filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		e := open("link")
		e.release()
		if c.byName["link"] != nil || !closed(e) {
			t.Errorf("a name ending in a symbolic link was cached")
		}
	})
	t.Run("bound-and-last-user", func(t *testing.T) {
		for _, n := range []string{"x", "y", "z"} {
			write(n, n)
		}
		ex := open("x") // kept in use while dropped
		open("y").release()
		open("z").release()
		if n := c.len(); n != 2 {
			t.Errorf("%d entries; want the bound, 2", n)
		}
		if c.byName["x"] != nil {
			t.Errorf("the least recently used entry was not dropped")
		}
		if closed(ex) {
			t.Fatalf("a dropped descriptor was closed while a response used it")
		}
		ex.release()
		if !closed(ex) {
			t.Errorf("a dropped descriptor stayed open after its last user")
		}
	})
}
