//go:build !linux

package httpserve

import "io/fs"

// versionOf reads fi's size and modification time: outside Linux the cache
// tells a file by os.SameFile and its versions by these two.
func versionOf(fi fs.FileInfo) version {
	return version{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// openDir does nothing: lstatVersion has no quick stat here.
func (c *fileCache) openDir(string) {}

// lstatVersion cannot say: the caller uses os.Root.Lstat.
func (c *fileCache) lstatVersion(string) (version, bool) { return version{}, false }
