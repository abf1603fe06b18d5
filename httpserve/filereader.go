package httpserve

import (
	"errors"
	"io"
	"os"
)

// fileReader is the io.ReadSeeker that http.ServeContent gets for a file.
// It keeps its own offset and reads with pread, so ServeContent's seeks
// (to the end for the size, back to the start, to a range's first byte) and
// conn.ReadFrom's look at the position cost no system call. Its size is the
// one taken when the file was opened, the same the ETag is made from.
type fileReader struct {
	f    *os.File
	off  int64
	size int64
}

var _ io.ReadSeeker = (*fileReader)(nil)

// Read reads from the current offset.
func (r *fileReader) Read(p []byte) (int, error) {
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

var errSeek = errors.New("fileReader.Seek: invalid whence or negative position")

// Seek sets the offset for the next Read; io.SeekEnd counts from the size
// at open.
func (r *fileReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errSeek
	}
	if offset < 0 {
		return 0, errSeek
	}
	r.off = offset
	return offset, nil
}
