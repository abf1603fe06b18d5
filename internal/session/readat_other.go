//go:build !unix

package session

import (
	"io"
	"os"

	"github.com/zcopy/zcopy/internal/tree"
)

// smallReader reads whole small files.
type smallReader struct{}

// readAt reads len(b) bytes of it's file from off into b. It returns the
// bytes read; fewer than len(b) means the file ended early. A file that is
// no longer the one listed is an error matching errChanged; one written
// while it was read matches errChangedWhileSent.
func (*smallReader) readAt(it *tree.Item, b []byte, off int64) (int, error) {
	f, err := it.Open() // beneath the root it was listed under
	if err != nil {
		return 0, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil || !it.Same(before) {
		return 0, &os.PathError{Op: "send", Path: it.Local, Err: errChanged}
	}
	n, err := f.ReadAt(b, off)
	if err == io.EOF {
		err = nil
	}
	if err == nil {
		if after, serr := f.Stat(); serr != nil || tree.Changed(before, after) {
			err = &os.PathError{Op: "send", Path: it.Local, Err: errChangedWhileSent}
		}
	}
	return n, err
}

func (*smallReader) close() {}
