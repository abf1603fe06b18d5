//go:build !unix

package session

import (
	"io"
	"os"
)

// readFileAt reads len(b) bytes of the file at name from off into b. It
// returns the bytes read; fewer than len(b) means the file ended early.
func readFileAt(name string, b []byte, off int64) (int, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.ReadAt(b, off)
	if err == io.EOF {
		err = nil
	}
	return n, err
}
