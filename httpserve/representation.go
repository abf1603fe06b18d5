package httpserve

import (
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// representation is what a response says about a file (RFC 9110, section
// 3.2): its size and validators, and the header values made from them,
// rendered once per version of the file and shared by every response that
// serves that version. It is never modified after it is made.
type representation struct {
	size         int64     // bytes, at the time it was made
	modTime      time.Time // Last-Modified
	etag         string    // strong: see etag
	lastModified string    // Last-Modified's value, "" for a zero time
	contentType  string
	encoding     string // Content-Encoding of a precompressed variant, or ""
	sizeText     string // size in decimal

	// fields200 are the header fields of a whole-file 200 (Accept-Ranges,
	// Last-Modified, ETag, Content-Type), rendered once by writeFields as
	// "Name: value\r\n" lines: the fast path adds them to the header it
	// holds (see serveFast) instead of setting them at every response.
	// Only for a representation without a Content-Encoding.
	fields200 []byte
}

// newRepresentation makes the representation of the regular file f, named
// name, as fi describes it. The media type comes from the name's extension,
// or, failing that, from the file's first 512 bytes (http.DetectContentType),
// as net/http's ServeContent does.
func newRepresentation(name string, f *os.File, fi fs.FileInfo) *representation {
	r := &representation{
		size:     fi.Size(),
		modTime:  fi.ModTime(),
		etag:     etag(fi),
		sizeText: strconv.FormatInt(fi.Size(), 10),
	}
	if mt := r.modTime; !mt.IsZero() && !mt.Equal(time.Unix(0, 0)) {
		r.lastModified = mt.UTC().Format(http.TimeFormat)
	}
	r.contentType = mime.TypeByExtension(filepath.Ext(name))
	if r.contentType == "" {
		var buf [512]byte
		n, _ := io.ReadFull(io.NewSectionReader(f, 0, int64(len(buf))), buf[:])
		r.contentType = http.DetectContentType(buf[:n])
	}
	var b fieldLines
	writeFields(&answer{status: http.StatusOK, rep: r}, &b)
	r.fields200 = b
	return r
}

// fieldLines collects header fields as "Name: value\r\n" lines.
type fieldLines []byte

// Set appends the field key: value.
func (b *fieldLines) Set(key, value string) {
	*b = append(append(append(append(*b, key...), ": "...), value...), "\r\n"...)
}

// etag makes a strong validator from the modification time and the size, as
// nginx does, and, where the system gives it, the inode: a file renamed over
// another with the same size and modification time (cp -p, tar) gets a new
// tag.
func etag(fi fs.FileInfo) string {
	t := `"`
	if ino := versionOf(fi).ino; ino != 0 {
		t += strconv.FormatUint(ino, 16) + "-"
	}
	return t + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + "-" + strconv.FormatInt(fi.Size(), 16) + `"`
}
