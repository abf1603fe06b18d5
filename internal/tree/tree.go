// Package tree turns the paths a user names on the command line into the
// manifest a framed transfer sends: every file, directory and symlink under
// them, with relative '/'-separated names, modes, sizes and mtimes.
// Symlinks are listed as links and never followed: every directory under
// a root is opened beneath it one name at a time, through directories
// only, when it is listed and when a file in it is opened to be sent
// (Item.Open), so a directory swapped for a symlink meanwhile cannot lead
// the walk or the send out of the tree (issue 14).
//
// What cannot be sent is named in the manifest as an omitted entry
// (proto.KindOmitted), with the reason, so that both ends count it as not
// delivered and the transfer ends as partial: a directory the walk cannot
// list, a file that vanished while it was listed, a name the protocol
// cannot carry. Devices, FIFOs and sockets are not omitted entries: they
// are left out with a warning only, as rsync without -D and scp do (they
// hold no contents to send, and the protocol has no entry for them).
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
	root  *root  // the root directory Walk listed it under, if any (Open)
	nlink uint64 // names the file had when it was listed
	// Owner is its numeric owner and group (zero where the system does
	// not say), sent with send --owner.
	Owner proto.Owner
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
// directories are listed at once. Each root directory is held open while
// it is listed, and everything under it is opened beneath it (openBeneath):
// a directory swapped for a symlink after its parent was listed is
// omitted, not listed through the symlink.
//
// What the walk finds but cannot send becomes an omitted item
// (proto.KindOmitted) in its place: a directory it cannot list (then
// nothing under it is listed), a thing that vanished or cannot be stat'ed
// or read while the tree is listed, a name the protocol cannot carry (a
// directory's tree with it). warn is called, in walk order too, for each
// omitted item and each device, FIFO or socket left out.
//
// Walk fails, sending nothing, for a root that is not there (or cannot be
// stat'ed), two roots that would arrive under the same name, the file
// system root, and when the system runs out of descriptors or memory.
func Walk(roots []string, warn func(string)) ([]Item, error) {
	return WalkExcluding(roots, nil, warn)
}

// WalkExcluding is Walk leaving out what x excludes (nil: nothing),
// roots included.
func WalkExcluding(roots []string, x *Exclude, warn func(string)) ([]Item, error) {
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
		e := entry{Item: Item{Local: clean, Entry: proto.Entry{Path: base}}}
		if err := e.fill(func() (stat, error) { return statOf(fi), nil },
			func() (string, error) { return os.Readlink(clean) }); err != nil {
			return nil, err
		}
		if x.Excludes(e.Path, e.Kind == proto.KindDir) {
			continue
		}
		w := &walker{sem: make(chan struct{}, walkers-1), x: x}
		if e.send && e.Kind == proto.KindDir {
			e.kid = w.begin(&e)
		}
		top := &node{entries: []entry{e}, done: make(chan struct{})}
		close(top.done)
		items, err = top.flatten(items, warn)
		w.close()
		if err != nil {
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
