package tree

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zcopy/zcopy/internal/proto"
)

// excludeTree makes src with files and directories whose names the
// patterns of TestExcludePatterns tell apart, and returns its path.
func excludeTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	for _, d := range []string{"build", "a/build", "a/b/cache", "cache.d", "keep"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"x.o", "x.c", "build/y.o", "a/build/z", "a/b/cache/c", "a/b/x.o", "cache.d/f", "keep/cache", "a/b/notes.txt"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// TestExcludePatterns walks one tree with each kind of pattern and checks
// exactly what is left: a base-name pattern at any depth, an anchored one
// (with and without its leading slash), a directory-only one (which
// spares a file of the same name), **, several at once, and the root
// itself.
func TestExcludePatterns(t *testing.T) {
	all := []string{"src", "src/a", "src/a/b", "src/a/b/cache", "src/a/b/cache/c", "src/a/b/notes.txt", "src/a/b/x.o",
		"src/a/build", "src/a/build/z", "src/build", "src/build/y.o", "src/cache.d", "src/cache.d/f", "src/keep", "src/keep/cache", "src/x.c", "src/x.o"}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(p string) bool {
			for _, d := range drop {
				if p == d || len(p) > len(d) && p[:len(d)+1] == d+"/" {
					return true
				}
			}
			return false
		})
	}
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"none", nil, all},
		{"base name at any depth", []string{"*.o"}, without("src/x.o", "src/build/y.o", "src/a/b/x.o")},
		{"directory name at any depth", []string{"build"}, without("src/build", "src/a/build")},
		{"anchored", []string{"src/build"}, without("src/build")},
		{"anchored with a leading slash", []string{"/src/build"}, without("src/build")},
		{"anchored does not float", []string{"a/build"}, all},
		{"directories only", []string{"cache/"}, without("src/a/b/cache")},
		{"double star", []string{"src/**/b"}, without("src/a/b")},
		{"alternatives", []string{"*.{c,txt}"}, without("src/x.c", "src/a/b/notes.txt")},
		{"several", []string{"*.o", "cache.d/", "keep"}, without("src/x.o", "src/build/y.o", "src/a/b/x.o", "src/cache.d", "src/keep")},
		{"the root itself", []string{"src"}, nil},
	}
	src := excludeTree(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := NewExclude(tc.patterns)
			if err != nil {
				t.Fatal(err)
			}
			items, err := WalkExcluding([]string{src}, x, func(s string) { t.Errorf("warned: %s", s) })
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Path)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("sent %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestExcludeBadPatterns: a pattern doublestar cannot parse, or one that
// is only slashes, is refused up front, naming it.
func TestExcludeBadPatterns(t *testing.T) {
	for _, p := range []string{"", "/", "//", "a[", "{a,b"} {
		if _, err := NewExclude([]string{p}); err == nil {
			t.Errorf("pattern %q accepted", p)
		}
	}
}

// TestExcludeListsNothingUnder: nothing under an excluded directory is
// listed, so a name in it that the protocol cannot carry (a backslash),
// which is otherwise sent as omitted and warned about, is neither.
func TestExcludeListsNothingUnder(t *testing.T) {
	src := excludeTree(t)
	if err := os.WriteFile(filepath.Join(src, "keep", `bad\name`), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	warned := 0
	if _, err := WalkExcluding([]string{src}, nil, func(string) { warned++ }); err != nil || warned != 1 {
		t.Fatalf("without --exclude: %d warnings, %v; want 1", warned, err)
	}
	x, _ := NewExclude([]string{"keep/"})
	items, err := WalkExcluding([]string{src}, x, func(s string) { t.Errorf("warned: %s", s) })
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Path == "src/keep" || it.Kind == proto.KindOmitted {
			t.Errorf("sent %+v from the excluded directory", it.Entry)
		}
	}
}
