package tree

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zcopy/zcopy/internal/proto"
)

// TestHardLinksListedOnce: of the names of one file (three here, one in a
// subdirectory, and a second pair), the first in walk order stays a file
// and the others become hard links naming its index; a file with one
// name is untouched.
func TestHardLinksListedOnce(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "c"), 0o755)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(src, "a"), []byte("aaa"), 0o644))
	must(os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
	must(os.Link(filepath.Join(src, "a"), filepath.Join(src, "c", "d")))
	must(os.WriteFile(filepath.Join(src, "e"), []byte("e"), 0o644))
	must(os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644))
	must(os.Link(filepath.Join(src, "f"), filepath.Join(src, "g")))
	items, err := Walk([]string{src}, func(s string) { t.Error(s) })
	must(err)
	items = HardLinks(items)
	index := map[string]int{}
	for i, it := range items {
		index[it.Path] = i
	}
	want := map[string]string{"src/b": "src/a", "src/c/d": "src/a", "src/g": "src/f"}
	for i, it := range items {
		target, linked := want[it.Path]
		switch {
		case linked && (it.Kind != proto.KindHardlink || int(it.Link) != index[target]):
			t.Errorf("%s: %v naming entry %d, want a hard link to %s (entry %d)", it.Path, it.Kind, it.Link, target, index[target])
		case !linked && it.Kind == proto.KindHardlink:
			t.Errorf("%s (entry %d): a hard link, want a %v", it.Path, i, it.Kind)
		}
	}
}
