package session

import (
	"bufio"
	"io"
	"os"

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
// through the page cache.
func hashFile(f *os.File, size int64) ([16]byte, error) {
	h := xxh3.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return [16]byte{}, err
	}
	return h.Sum128().Bytes(), nil
}

// hashPath returns the XXH3-128 of the first size bytes of the file at
// name.
func hashPath(name string, size int64) ([16]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return [16]byte{}, err
	}
	defer f.Close()
	return hashFile(f, size)
}

// xxh3Sum returns the XXH3-128 of b.
func xxh3Sum(b []byte) [16]byte { return xxh3.Hash128(b).Bytes() }

// zeros is a source of padding for bodies that could not be sent whole.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
