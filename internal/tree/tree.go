// Package tree turns the paths a user names on the command line into the
// manifest a framed transfer sends: every file, directory and symlink under
// them, with relative '/'-separated names, modes, sizes and mtimes.
// Symlinks are listed as links and never followed; devices, FIFOs and
// sockets are left out with a warning.
package tree

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/zcopy/zcopy/internal/proto"
)

// Item is one manifest entry and the local path it came from.
type Item struct {
	proto.Entry
	Local string // path on this machine
	ID    FileID // the file's identity when it was listed
}

// FileID names a file independently of its path (device and inode on
// Unix; zero where the system does not say).
type FileID struct{ Dev, Ino uint64 }

// Tag folds the identity into the manifest's Source field (64-bit FNV-1a of
// device and inode; 0 for an unknown identity).
func (id FileID) Tag() uint64 {
	if id == (FileID{}) {
		return 0
	}
	h := uint64(14695981039346656037)
	for _, v := range [2]uint64{id.Dev, id.Ino} {
		for range 8 {
			h = (h ^ v&0xff) * 1099511628211
			v >>= 8
		}
	}
	return h
}

// Same reports whether fi describes the file the item was listed as: the
// same identity (where known), size and modification time. A file that was
// replaced or rewritten since must not be sent under the listed size.
func (it *Item) Same(fi fs.FileInfo) bool {
	return fileID(fi) == it.ID && fi.Size() == it.Size && fi.ModTime().UnixNano() == it.MTime
}

// Walk lists the items under each root. A root that is a file is sent under
// its base name; a directory is sent with its base name as the top of its
// tree (as cp -r and scp -r do). Items come in the order filepath.WalkDir
// would give them (a directory, then its entries by name), though several
// directories are listed at once. warn is called, in that order too, for
// each item left out; an error reading the tree ends the walk.
func Walk(roots []string, warn func(string)) ([]Item, error) {
	var items []Item
	seen := map[string]string{}
	for _, root := range roots {
		clean := filepath.Clean(root)
		base := filepath.Base(clean)
		if base == "/" || base == "." || base == ".." {
			abs, err := filepath.Abs(clean)
			if err != nil {
				return nil, err
			}
			base = filepath.Base(abs)
			if base == "/" {
				return nil, fmt.Errorf("%s: cannot send the whole file system root", root)
			}
		}
		if prev, ok := seen[base]; ok {
			return nil, fmt.Errorf("%s and %s would both arrive as %q", prev, root, base)
		}
		seen[base] = root
		fi, err := os.Lstat(clean)
		if err != nil {
			return nil, err
		}
		top := &node{done: make(chan struct{})}
		top.add(statOf(fi), clean, base)
		w := &walker{sem: make(chan struct{}, walkers-1)}
		if top.err == nil && len(top.items) == 1 && top.items[0].Kind == proto.KindDir {
			top.kids[0] = w.start(clean, base)
		}
		close(top.done)
		if items, err = top.flatten(items, warn); err != nil {
			return nil, w.result(err)
		}
	}
	return items, nil
}

// modeBits turns an fs.FileMode into Unix permission bits (0o7777).
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// FileMode turns Unix permission bits back into an fs.FileMode.
func FileMode(b uint32) fs.FileMode {
	m := fs.FileMode(b & 0o777)
	if b&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if b&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if b&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}
