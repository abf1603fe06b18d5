package httpserve

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// errBadPath rejects a request path before any file is looked up.
var errBadPath = errors.New("invalid URL path")

// cleanPath turns a request's URL path (already unescaped by net/http, so
// "%2e%2e" has become "..") into a name relative to the served directory:
// "." for the root, "a/b" for "/a/b/". A path that is not absolute, holds a
// NUL, a ".." segment, or (where the separator is not '/') the system's
// separator is refused outright; os.Root confines whatever passes.
func cleanPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 {
		return "", errBadPath
	}
	if filepath.Separator != '/' && strings.ContainsRune(p, filepath.Separator) {
		return "", errBadPath
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return "", errBadPath
		}
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		name = "."
	}
	return name, nil
}

// openFile opens name under root for reading and returns it with its
// FileInfo. It never blocks on a FIFO (see openNoBlock) and, for a regular
// file, leaves a descriptor in blocking mode for the engine.
func openFile(root *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := openNoBlock(root, name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if fi.Mode().IsRegular() {
		if err := setBlocking(f); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	return f, fi, nil
}
