package datagen

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"empty", Options{Size: 0}},
		{"odd", Options{Size: 1<<20 + 7, Seed: 1}},
		{"sparse", Options{Size: 1 << 30, Sparse: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := Generate(p, tc.o); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != tc.o.Size {
				t.Fatalf("size %d, want %d", fi.Size(), tc.o.Size)
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && tc.o.Sparse && st.Blocks != 0 {
				t.Errorf("sparse file has %d blocks", st.Blocks)
			}
		})
	}
	// Same seed, same bytes; other seed, other bytes.
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	for p, seed := range map[string]uint64{a: 5, b: 5, c: 6} {
		if err := Generate(p, Options{Size: 4096, Seed: seed}); err != nil {
			t.Fatal(err)
		}
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	dc, _ := os.ReadFile(c)
	if !bytes.Equal(da, db) || bytes.Equal(da, dc) {
		t.Error("seeds do not select the stream")
	}
	if err := Generate(filepath.Join(dir, "neg"), Options{Size: -1}); err == nil {
		t.Error("negative size accepted")
	}
	if err := Generate(filepath.Join(dir, "no/such/dir/x"), Options{Size: 1}); err == nil {
		t.Error("missing directory accepted")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*zcopy-part"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
