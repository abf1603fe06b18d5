package session

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
	"github.com/zeebo/xxh3"
)

func readFull(br *bufio.Reader, b []byte) (int, error) {
	n, err := io.ReadFull(br, b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// hashFile returns the XXH3-128 of the file's first size bytes, read
// through the page cache. A file that ends before size bytes is an error
// matching zerocopy.ErrTruncated.
func hashFile(f *os.File, size int64) ([16]byte, error) {
	h := xxh3.New()
	n, err := io.Copy(h, io.NewSectionReader(f, 0, size))
	if err != nil {
		return [16]byte{}, err
	}
	if n < size {
		return [16]byte{}, fmt.Errorf("hashing %s: %w: it ends at %d of %d bytes", f.Name(), zerocopy.ErrTruncated, n, size)
	}
	return h.Sum128().Bytes(), nil
}

// hashItem returns the XXH3-128 of the first it.Size bytes of it's file,
// opened beneath the root it was listed under (tree.Item.Open), never
// through a directory swapped for a symlink since.
func hashItem(it *tree.Item) ([16]byte, error) {
	f, err := it.Open()
	if err != nil {
		return [16]byte{}, err
	}
	defer f.Close()
	return hashFile(f, it.Size)
}

// xxh3Sum returns the XXH3-128 of b.
func xxh3Sum(b []byte) [16]byte { return xxh3.Hash128(b).Bytes() }

// zeros is a source of padding for bodies that could not be sent whole.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
