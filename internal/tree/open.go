package tree

import (
	"errors"
	"os"
	"path/filepath"
)

// root is one root directory of a walk as the walk found it, shared by the
// items listed under it, so that their files are opened later beneath the
// same directory (Item.Open).
type root struct {
	path string // the root, cleaned
	id   FileID // its identity when it was listed
	skip int    // the bytes of an item's Local before its path relative to the root
}

// newRoot describes the root directory path (cleaned), whose identity is id.
func newRoot(path string, id FileID) *root {
	return &root{path: path, id: id, skip: len(filepath.Join(path, "x")) - 1}
}

// rel returns local, the Local of an item under r, relative to r: "." for
// r itself.
func (r *root) rel(local string) string {
	if local == r.path {
		return "."
	}
	return local[r.skip:]
}

// open opens local, the Local of an item under r (or of the directory of
// one), beneath r: as a directory to list or read in if dir, else as a file
// to read.
func (r *root) open(local string, dir bool) (*os.File, error) {
	t, id, err := openTop(r.path)
	if err != nil {
		return nil, err
	}
	defer t.close()
	if id != r.id {
		return nil, &os.PathError{Op: "open", Path: r.path, Err: errRootReplaced}
	}
	if dir {
		d, err := t.openDir(r.rel(local), local)
		return d.File, err
	}
	return t.openFile(r.rel(local), local)
}

// Open opens the item's file for reading.
//
// A file that Walk listed under a root directory is opened beneath that
// directory, as the walk reached it: the directory must still be the one
// listed (the same device and inode, where the system says), and the path
// below it is looked up one name at a time, each in the directory before
// it, through directories only. No symlink is followed, nor "..": where a
// directory on the way was swapped for a symlink since (to /etc, say), the
// open fails, its error matching errReplaced, and nothing outside the tree
// is read. (Other systems than Unix confine the open to the root with an
// os.Root, which follows a symlink that stays inside it.)
//
// A file named as a root, or an item Walk did not make, is opened by its
// Local path, a symlink at its last name not followed.
//
// Open does not say whether the file is the one listed; the caller
// compares them (Same) before it reads.
func (it *Item) Open() (*os.File, error) {
	if it.root == nil || it.Local == it.root.path {
		return openPath(it.Local, false)
	}
	return it.root.open(it.Local, false)
}

// OpenDir opens, as Open would, the directory that holds the item's file,
// for the file to be opened in it by its base name (filepath.Base of
// Local), not following a symlink. The directory of a file named as a
// root, or of an item Walk did not make, is opened by its path.
func (it *Item) OpenDir() (*os.File, error) {
	local := filepath.Dir(it.Local)
	if it.root == nil || it.Local == it.root.path {
		return openPath(local, true)
	}
	return it.root.open(local, true)
}

var (
	// errReplaced is why something under a root cannot be opened where
	// the walk listed it: a symlink, or another thing that is not a
	// directory, stands where the walk found a directory.
	errReplaced = errors.New("it or a directory on its path was replaced since it was listed, and not by a directory (a symlink is not followed)")
	// errRootReplaced is why nothing under a root can be opened any more:
	// another directory stands at the root's path.
	errRootReplaced = errors.New("the directory was replaced since the tree was listed")
)
