package tree

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
)

// walkDirRef lists a root the plain way, with filepath.WalkDir and a full
// lstat per entry: the order and content Walk must reproduce.
func walkDirRef(t *testing.T, root string) ([]Item, []string) {
	t.Helper()
	var items []Item
	var warns []string
	base := filepath.Base(root)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := base
		if rel != "." {
			name = path.Join(base, filepath.ToSlash(rel))
		}
		if err := proto.CheckPath(name); err != nil {
			warns = append(warns, fmt.Sprintf("%s: left out: %v", p, err))
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		it := Item{Local: p, ID: fileID(fi), Entry: proto.Entry{Path: name, Mode: modeBits(fi.Mode()), MTime: fi.ModTime().UnixNano()}}
		switch {
		case fi.Mode().IsRegular():
			it.Kind, it.Size, it.Source = proto.KindFile, fi.Size(), it.ID.Tag()
		case fi.IsDir():
			it.Kind = proto.KindDir
		case fi.Mode()&fs.ModeSymlink != 0:
			it.Kind = proto.KindSymlink
			it.Target, _ = os.Readlink(p)
		default:
			warns = append(warns, fmt.Sprintf("%s: left out: a %v is not a file, directory or symlink", p, fi.Mode().Type()))
			return nil
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return items, warns
}

// makeTree builds a tree wide and deep enough that Walk lists directories
// on several goroutines, with every kind of entry Walk meets.
func makeTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "top")
	for d := range 12 {
		for s := range 3 {
			dir := filepath.Join(root, fmt.Sprintf("d%02d", d), fmt.Sprintf("s%d", s), "deep")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for f := range 5 {
				p := filepath.Join(filepath.Dir(dir), fmt.Sprintf("f%d", f))
				if err := os.WriteFile(p, []byte(strings.Repeat("x", d*s+f)), 0o640); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(root, "empty dir"), 0o700))
	must(os.WriteFile(filepath.Join(root, "empty"), nil, 0o600))
	must(os.WriteFile(filepath.Join(root, "ünï cödé"), []byte("hello"), 0o4755))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "d03", "link")))
	must(os.Symlink("s0", filepath.Join(root, "d04", "rel link")))
	must(syscall.Mkfifo(filepath.Join(root, "d05", "fifo"), 0o600))
	must(os.MkdirAll(filepath.Join(root, `bad\dir`, "inside"), 0o755))
	must(os.WriteFile(filepath.Join(root, "d06", `bad\name`), nil, 0o600))
	old := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	must(os.Chtimes(filepath.Join(root, "d07", "s1", "f2"), old, old))
	return root
}

func TestWalkMatchesWalkDir(t *testing.T) {
	root := makeTree(t)
	want, wantWarns := walkDirRef(t, root)
	for range 5 { // the goroutines may finish in any order; the result may not
		var warns []string
		got, err := Walk([]string{root}, func(s string) { warns = append(warns, s) })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Walk listed %d items, WalkDir %d", len(got), len(want))
		}
		for i := range want {
			if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
				t.Fatalf("item %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if strings.Join(warns, "\n") != strings.Join(wantWarns, "\n") {
			t.Fatalf("warnings:\n got %q\nwant %q", warns, wantWarns)
		}
	}
	if len(wantWarns) != 3 {
		t.Errorf("the tree should give 3 warnings (fifo, two bad names), gave %q", wantWarns)
	}
}

func TestWalkRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.bin")
	os.WriteFile(file, []byte("12345"), 0o644)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "a"), nil, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink("file.bin", link)
	other := filepath.Join(t.TempDir(), "sub")
	os.Mkdir(other, 0o755)

	tests := []struct {
		name    string
		roots   []string
		want    []string // Path of each item
		wantErr string
	}{
		{"a file is sent under its name", []string{file}, []string{"file.bin"}, ""},
		{"a directory is the top of its tree", []string{sub}, []string{"sub", "sub/a"}, ""},
		{"a symlink is sent as a link", []string{link}, []string{"link"}, ""},
		{"several roots, in order", []string{file, sub}, []string{"file.bin", "sub", "sub/a"}, ""},
		{"dot takes the directory's name", []string{sub + "/."}, []string{"sub", "sub/a"}, ""},
		{"two roots that would collide", []string{sub, other}, nil, `would both arrive as "sub"`},
		{"the file system root", []string{"/"}, nil, "cannot send the whole file system root"},
		{"a root that is not there", []string{filepath.Join(dir, "nothing")}, nil, "no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := Walk(tc.roots, func(string) {})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Path)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWalkSwappedDir: a directory swapped for a symlink between its
// parent's listing and its own is not followed, and its error stops the
// walk.
func TestWalkSwappedDir(t *testing.T) {
	evil := filepath.Join(t.TempDir(), "evil")
	if err := os.Symlink("/etc", evil); err != nil {
		t.Fatal(err)
	}
	n := &node{done: make(chan struct{})}
	w := &walker{sem: make(chan struct{}, walkers-1)}
	w.list(n, evil, "top/evil")
	if n.err == nil || !strings.Contains(n.err.Error(), evil) || len(n.items) != 0 {
		t.Errorf("listing a symlink as a directory: err %v, %d items; want an error naming it and nothing listed", n.err, len(n.items))
	}
	if w.failed() != n.err {
		t.Errorf("the walk did not stop: its failure is %v", w.failed())
	}
	// A directory listed after the failure, though it comes first in walk
	// order, is skipped; the walk reports the failure, not the skip.
	first := &node{done: make(chan struct{})}
	w.list(first, t.TempDir(), "top/a")
	top := &node{done: make(chan struct{}), items: []Item{{}, {}}, kids: []*node{first, n}}
	close(top.done)
	if _, err := top.flatten(nil, func(string) {}); w.result(err) != n.err || err != errStopped {
		t.Errorf("flatten: %v, reported as %v; want the skip reported as %v", err, w.result(err), n.err)
	}
}

// BenchmarkWalk lists 100 directories of 100 files each, the tree of small
// files the transfer benchmarks use.
func BenchmarkWalk(b *testing.B) {
	root := filepath.Join(b.TempDir(), "small")
	for d := range 100 {
		dir := filepath.Join(root, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := 0
	for b.Loop() {
		items, err := Walk([]string{root}, func(string) {})
		if err != nil {
			b.Fatal(err)
		}
		n = len(items)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
}
