//go:build unix

package tree

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// eachResolver runs f as the subtest name once for each way openBeneath
// goes: by openat2(2), where the kernel has it, and by one openat a level,
// as on other systems (and kernels before Linux 5.6).
func eachResolver(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	was := noOpenat2.Load()
	defer noOpenat2.Store(was)
	run := func(t *testing.T) {
		if runtime.GOOS == "linux" && !was {
			noOpenat2.Store(false)
			t.Run("openat2", f)
		}
		noOpenat2.Store(true)
		t.Run("openat", f)
	}
	if name == "" {
		run(t)
		return
	}
	t.Run(name, run)
}

// beneathTree makes, in a new directory, the tree top (files top/a,
// top/d/f, top/d/sub/x, and top/e/f, a copy of top/d/f) and beside it the
// directory outside, which holds secrets under the same names as the
// tree (outside/f, outside/sub/x, outside/d/f, outside/d/sub/x), and
// returns both.
func beneathTree(t *testing.T) (top, outside string) {
	t.Helper()
	dir := t.TempDir()
	top, outside = filepath.Join(dir, "top"), filepath.Join(dir, "outside")
	mk(t, top, "a", "d/f", "d/sub/x", "e/f")
	for _, f := range []string{"f", "sub/x", "d/f", "d/sub/x"} {
		p := filepath.Join(outside, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("SECRET"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return top, outside
}

// TestOpenBeneath guards issue 14: a file was opened for sending by its
// whole path, so a directory of the tree swapped for a symlink after the
// walk led the open out of the tree (to /etc, say). Item.Open and
// Item.OpenDir open beneath the root the item was listed under, through
// directories only: whatever was swapped in, on the way or at the end,
// the open fails with errReplaced (errRootReplaced for the root itself),
// and no byte outside the tree is read; the tree as listed opens.
func TestOpenBeneath(t *testing.T) {
	// swap moves p out of the tree (beside it, as moved) and puts a
	// symlink to target in its place.
	swap := func(t *testing.T, top, p, target string) {
		t.Helper()
		if err := os.Rename(p, filepath.Join(filepath.Dir(top), "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		item   string // the file opened, relative to top's parent
		change func(t *testing.T, top, outside string)
		want   error // nil: it opens, and is the file listed
		// dirOpens says OpenDir still opens the directory listed (the
		// file, opened in it as the small-file reader does, opens if want
		// is nil, else not); if not, OpenDir fails as Open does.
		dirOpens bool
	}{
		{"the tree as listed", "top/d/sub/x", nil, nil, true},
		{"a file directly under the root", "top/a", nil, nil, true},
		{"its directory swapped for a symlink out of the tree", "top/d/f", func(t *testing.T, top, outside string) {
			swap(t, top, filepath.Join(top, "d"), outside)
		}, errReplaced, false},
		{"a directory above swapped for a symlink out of the tree", "top/d/sub/x", func(t *testing.T, top, outside string) {
			swap(t, top, filepath.Join(top, "d"), outside)
		}, errReplaced, false},
		{"its directory swapped for a relative symlink within the tree", "top/d/f", func(t *testing.T, top, outside string) {
			swap(t, top, filepath.Join(top, "d"), "e")
		}, errReplaced, false},
		{"its directory swapped for a file", "top/d/f", func(t *testing.T, top, outside string) {
			if err := errors.Join(os.Rename(filepath.Join(top, "d"), filepath.Join(top, "..", "moved")),
				os.WriteFile(filepath.Join(top, "d"), nil, 0o644)); err != nil {
				t.Fatal(err)
			}
		}, errReplaced, false},
		{"the file swapped for a symlink out of the tree", "top/d/f", func(t *testing.T, top, outside string) {
			if err := errors.Join(os.Remove(filepath.Join(top, "d/f")), os.Symlink(filepath.Join(outside, "f"), filepath.Join(top, "d/f"))); err != nil {
				t.Fatal(err)
			}
		}, errReplaced, true},
		{"the root swapped for a symlink", "top/d/f", func(t *testing.T, top, outside string) {
			swap(t, top, top, "moved")
		}, errReplaced, false},
		{"the root swapped for another directory", "top/d/f", func(t *testing.T, top, outside string) {
			if err := errors.Join(os.Rename(top, filepath.Join(filepath.Dir(top), "moved")), os.Rename(outside, top)); err != nil {
				t.Fatal(err)
			}
		}, errRootReplaced, false},
		{"the file vanished", "top/d/f", func(t *testing.T, top, outside string) {
			if err := os.Remove(filepath.Join(top, "d/f")); err != nil {
				t.Fatal(err)
			}
		}, fs.ErrNotExist, true},
	}
	for _, tc := range tests {
		eachResolver(t, tc.name, func(t *testing.T) {
			top, outside := beneathTree(t)
			items, err := Walk([]string{top}, func(s string) { t.Error(s) })
			if err != nil {
				t.Fatal(err)
			}
			byPath := map[string]*Item{}
			for i := range items {
				byPath[items[i].Path] = &items[i]
			}
			it, dir := byPath[tc.item], byPath[filepath.Dir(tc.item)]
			if tc.change != nil {
				tc.change(t, top, outside)
			}
			f, err := it.Open()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer f.Close()
				fi, err := f.Stat()
				if err != nil || !it.Same(fi) {
					t.Fatalf("Open gave %v (%v), not the file listed", fi, err)
				}
			} else {
				if err == nil {
					b, _ := io.ReadAll(f)
					f.Close()
					t.Fatalf("Open gave a file holding %q; want an error matching %v", b, tc.want)
				}
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), filepath.Dir(top)) {
					t.Fatalf("Open: %v; want an error naming the path, matching %v", err, tc.want)
				}
				t.Logf("Open: %v", err)
			}
			d, err := it.OpenDir()
			if tc.dirOpens {
				if err != nil {
					t.Fatalf("OpenDir: %v", err)
				}
				defer d.Close()
				fi, err := d.Stat()
				if err != nil || fileID(fi) != dir.ID {
					t.Fatalf("OpenDir gave %v (%v), not the directory listed", fi, err)
				}
				// The file is opened in it as the small-file reader does.
				fd, err := unix.Openat(int(d.Fd()), filepath.Base(it.Local), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if (err == nil) != (tc.want == nil) {
					t.Fatalf("opening the file in its directory: %v; want %v", err, tc.want)
				}
				if err == nil {
					unix.Close(fd)
				}
			} else if !errors.Is(err, tc.want) {
				if err == nil {
					d.Close()
				}
				t.Fatalf("OpenDir: %v; want an error matching %v", err, tc.want)
			}
		})
	}
}

// TestOpenByPath: a file named as a root, and an item Walk did not make,
// are opened by their path, a symlink at the last name not followed.
func TestOpenByPath(t *testing.T) {
	top, outside := beneathTree(t)
	items, err := Walk([]string{filepath.Join(top, "a")}, func(s string) { t.Error(s) })
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(top, "link")
	if err := os.Symlink(filepath.Join(outside, "f"), link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		it   Item
		want string // the contents; "" for an error
	}{
		{"a root that is a file", items[0], "a"},
		{"an item made by hand", Item{Local: filepath.Join(top, "d/sub/x")}, "d/sub/x"},
		{"an item made by hand that is a symlink", Item{Local: link}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.it.Open()
			if tc.want == "" {
				if err == nil {
					f.Close()
					t.Fatal("Open followed a symlink")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if b, err := io.ReadAll(f); err != nil || !bytes.Equal(b, []byte(tc.want)) {
				t.Fatalf("read %q (%v), want %q", b, err, tc.want)
			}
			d, err := tc.it.OpenDir()
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
		})
	}
}

// BenchmarkWalkLevels is BenchmarkWalk the way systems without openat2(2)
// go: one openat a level to reach each directory.
func BenchmarkWalkLevels(b *testing.B) {
	defer noOpenat2.Store(noOpenat2.Load())
	noOpenat2.Store(true)
	BenchmarkWalk(b)
}
