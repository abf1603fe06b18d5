// Package datagen makes test data files: the seed article's data.bin of
// random bytes, or a sparse file of zeros that costs no disk space.
package datagen

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Options describe a file to make.
type Options struct {
	// Size is the file's length in bytes.
	Size int64
	// Sparse makes a file of zeros with no blocks allocated (a hole).
	Sparse bool
	// Seed selects the random stream; the same seed gives the same bytes.
	Seed uint64
}

// Generate writes a new file at path. It writes a temporary file beside path
// and renames it into place only when complete, so path never holds a short
// file. Random bytes come from a ChaCha8 stream, which runs at memory speed.
func Generate(path string, o Options) (err error) {
	if o.Size < 0 {
		return fmt.Errorf("generate %s: negative size %d", path, o.Size)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.zcopy-part")
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if o.Sparse {
		err = tmp.Truncate(o.Size)
	} else {
		err = fill(tmp, o)
	}
	if err != nil {
		return fmt.Errorf("generate %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("generate %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("generate %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

func fill(f *os.File, o Options) error {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], o.Seed)
	rng := rand.NewChaCha8(key)
	buf := make([]byte, 1<<20)
	for left := o.Size; left > 0; {
		p := buf[:min(int64(len(buf)), left)]
		rng.Read(p)
		if _, err := f.Write(p); err != nil {
			return err
		}
		left -= int64(len(p))
	}
	return nil
}
