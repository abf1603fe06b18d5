package tree

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"

	"github.com/zcopy/zcopy/internal/proto"
)

// walkers is how many directories a walk lists at once. A tree of small
// files costs a system call or two an entry, and the kernel serves several
// directories at once as readily as one; the rest of a transfer waits for
// the walk.
const walkers = 4

// A walker lists a tree, handing directories to goroutines of their own
// while it has tokens for them and listing them in place otherwise.
type walker struct {
	sem chan struct{} // a token for each goroutine beyond the caller's

	mu  sync.Mutex
	err error // the first listing to fail: the walk is over
}

// fail records err as the walk's failure unless one came first.
func (w *walker) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// failed returns the walk's failure, if any.
func (w *walker) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// result turns the error flatten returned into the one to report: a
// listing skipped because another failed (errStopped, possibly earlier in
// walk order) stands for that failure.
func (w *walker) result(err error) error {
	if err == errStopped {
		return w.failed()
	}
	return err
}

// node is one directory's listing: its entries by name, and for each that
// is a directory, the node that lists it.
type node struct {
	items []Item
	kids  []*node // kids[i] lists items[i] if that is a directory
	warns []string
	err   error
	done  chan struct{} // closed when items, kids, warns and err are final
}

// start returns the node listing the directory local (sent as name), listed
// by a goroutine of its own if a token is free, else before start returns.
func (w *walker) start(local, name string) *node {
	n := &node{done: make(chan struct{})}
	select {
	case w.sem <- struct{}{}:
		go func() {
			defer func() { <-w.sem }()
			w.list(n, local, name)
		}()
	default:
		w.list(n, local, name)
	}
	return n
}

// list fills n with the entries of the directory local and starts the
// listings of its subdirectories, closing the directory first so that a
// deep tree holds one descriptor per goroutine, not one per level.
func (w *walker) list(n *node, local, name string) {
	defer close(n.done)
	if w.failed() != nil {
		n.err = errStopped
		return
	}
	if err := n.read(local, name); err != nil {
		n.err = err
		w.fail(err)
		return
	}
	for i := range n.items {
		if it := &n.items[i]; it.Kind == proto.KindDir {
			n.kids[i] = w.start(it.Local, it.Path)
		}
	}
}

// read lists the directory local: its entries, sorted, each stat'ed
// relative to the open directory.
func (n *node) read(local, name string) error {
	d, err := openDir(local)
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: local, Err: err}
	}
	slices.Sort(names)
	for _, base := range names {
		p, rel := filepath.Join(local, base), path.Join(name, base)
		if err := proto.CheckPath(rel); err != nil {
			n.warns = append(n.warns, fmt.Sprintf("%s: left out: %v", p, err))
			continue
		}
		st, err := lstatAt(d, base, p)
		if err != nil {
			return err
		}
		n.add(st, p, rel)
		if n.err != nil {
			return n.err
		}
	}
	return nil
}

// add appends the item that st describes, at local, sent as name; a file
// of a kind that is not sent is a warning instead.
func (n *node) add(st stat, local, name string) {
	it := Item{Local: local, ID: st.id, Entry: proto.Entry{Path: name, Mode: st.perm, MTime: st.mtime}}
	switch {
	case st.typ == 0:
		it.Kind, it.Size, it.Source = proto.KindFile, st.size, st.id.Tag()
	case st.typ == fs.ModeDir:
		it.Kind = proto.KindDir
	case st.typ == fs.ModeSymlink:
		target, err := os.Readlink(local)
		if err != nil {
			n.err = err
			return
		}
		it.Kind, it.Target = proto.KindSymlink, target
	default:
		n.warns = append(n.warns, fmt.Sprintf("%s: left out: a %v is not a file, directory or symlink", local, st.typ))
		return
	}
	n.items = append(n.items, it)
	n.kids = append(n.kids, nil)
}

// flatten appends n's items to items in walk order, each directory followed
// by its tree, and passes on the warnings; it returns the first error in
// that order.
func (n *node) flatten(items []Item, warn func(string)) ([]Item, error) {
	<-n.done
	for _, w := range n.warns {
		warn(w)
	}
	if n.err != nil {
		return nil, n.err
	}
	for i := range n.items {
		items = append(items, n.items[i])
		if k := n.kids[i]; k != nil {
			var err error
			if items, err = k.flatten(items, warn); err != nil {
				return nil, err
			}
		}
	}
	return items, nil
}

// errStopped marks listings skipped because another failed first; Walk
// reports that failure instead (walker.result).
var errStopped = errors.New("the walk stopped")

// stat is what a walk needs to know of a file.
type stat struct {
	typ   fs.FileMode // type bits only: 0 for a regular file
	perm  uint32      // Unix permission bits (0o7777)
	size  int64
	mtime int64 // ns since the epoch
	id    FileID
}

// statOf converts what os.Lstat says.
func statOf(fi fs.FileInfo) stat {
	return stat{typ: fi.Mode().Type(), perm: modeBits(fi.Mode()), size: fi.Size(), mtime: fi.ModTime().UnixNano(), id: fileID(fi)}
}
