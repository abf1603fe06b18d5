package tree

import "io/fs"

// Changed reports whether a file's data was written or truncated between
// two fstat(2) of one descriptor: before, taken when a read of it began,
// and after, when the read ended. Its size or modification time differ.
//
// Every write(2), truncate and write through a mapping moves the mtime.
// The change time is not compared: it also moves when the file is only
// renamed over, unlinked, linked or chmod'ed, none of which touches the
// bytes being read. A writer that sets the mtime back after rewriting the
// file in place (touch -d, rsync -t) escapes this check, as it escapes
// rsync's and make's. Since Linux 6.13 multigrain timestamps make a write
// that follows an fstat show in the mtime even within one clock tick
// (kernel commit 4e40eff0b573, Documentation/filesystems/multigrain-ts.rst);
// on older kernels and other systems a write within the same tick as
// before (a few ms) may leave the mtime as it was, and only the size
// tells.
func Changed(before, after fs.FileInfo) bool {
	return before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime())
}
