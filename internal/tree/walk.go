package tree

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/zcopy/zcopy/internal/proto"
)

// walkers is how many directories a walk lists at once. A tree of small
// files costs a system call or two an entry, and the kernel serves several
// directories at once as readily as one; the rest of a transfer waits for
// the walk.
const walkers = 4

// Test hooks, nil outside tests, that let a test change the tree at the
// moments a walk races with other writers: hookListed is called with a
// directory's path after its names are read and before any of them is
// stat'ed, hookStatted with an entry's path after it is stat'ed and before
// a symlink's target is read or a directory is listed.
var hookListed, hookStatted func(local string)

// A walker lists the tree under one root directory, handing directories to
// goroutines of their own while it has tokens for them and listing them in
// place otherwise. Every directory is opened beneath the root, which is
// open for the walk: no symlink is followed on the way, so a directory
// swapped for a symlink after its parent was listed is not listed through
// it (openBeneath).
type walker struct {
	sem  chan struct{} // a token for each goroutine beyond the caller's
	top  top           // the root, open until the walk ends (close)
	root *root
	x    *Exclude       // what the walk leaves out, or nil
	wg   sync.WaitGroup // the goroutines

	mu  sync.Mutex
	err error // the first failure that ends the walk
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

// node is one directory's listing: its entries by name. A directory that
// cannot be listed has no entries and says why in omit; its own entry, in
// its parent's node, is then sent as omitted.
type node struct {
	entries []entry
	omit    string        // why the directory could not be listed, or ""
	err     error         // a failure that ends the walk
	done    chan struct{} // closed when entries, omit and err are final
}

// entry is one name in a listing: an item to send, a warning to give when
// the walk reaches it, or both (an omitted item); and for a directory, the
// node that lists it.
type entry struct {
	Item
	send bool   // false for a name that is only warned about
	warn string // said when the walk reaches this entry
	kid  *node  // lists the directory, once started
}

// begin opens the root directory that e, its entry, describes and starts
// its listing, returning the node that lists it. A root that cannot be
// opened, or is not the directory e describes any more, is omitted.
func (w *walker) begin(e *entry) *node {
	t, id, err := openTop(e.Local)
	if err == nil && id != e.ID {
		t.close()
		err = &os.PathError{Op: "open", Path: e.Local, Err: errReplaced}
	}
	if err != nil {
		n := &node{done: make(chan struct{})}
		close(n.done)
		if exhausted(err) {
			n.err = err
			w.fail(err)
		} else {
			n.omit = listReason(err)
		}
		return n
	}
	w.top, w.root = t, newRoot(e.Local, id)
	return w.start(e.Local, e.Path)
}

// close waits for the walk's goroutines and closes the root, if open.
func (w *walker) close() {
	w.wg.Wait()
	if w.root != nil {
		w.top.close()
	}
}

// start returns the node listing the directory local (sent as name), listed
// by a goroutine of its own if a token is free, else before start returns.
func (w *walker) start(local, name string) *node {
	n := &node{done: make(chan struct{})}
	select {
	case w.sem <- struct{}{}:
		w.wg.Add(1)
		go func() {
			defer func() { <-w.sem; w.wg.Done() }()
			w.list(n, local, name)
		}()
	default:
		w.list(n, local, name)
	}
	return n
}

// list fills n with the entries of the directory local and starts the
// listings of its subdirectories, closing the directory first so that a
// deep tree holds one descriptor per goroutine, not one per level. A
// directory that cannot be listed is omitted; only running out of
// descriptors or memory ends the walk.
func (w *walker) list(n *node, local, name string) {
	defer close(n.done)
	if w.failed() != nil {
		n.err = errStopped
		return
	}
	if err := w.read(n, local, name); err != nil {
		if exhausted(err) {
			n.err = err
			w.fail(err)
			return
		}
		n.entries, n.omit = nil, listReason(err)
		return
	}
	for i := range n.entries {
		if e := &n.entries[i]; e.send && e.Kind == proto.KindDir {
			e.kid = w.start(e.Local, e.Path)
		}
	}
}

// read fills n with the entries of the directory local, sorted, each
// stat'ed relative to the open directory. It fails if the directory cannot
// be opened beneath the root or read, or if the system ran out of
// descriptors or memory; an entry that cannot be stat'ed, or whose name
// the protocol cannot carry, is an omitted entry.
func (w *walker) read(n *node, local, name string) error {
	d, err := w.top.openDir(w.root.rel(local), local)
	if err != nil {
		return err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: local, Err: err}
	}
	if hookListed != nil {
		hookListed(local)
	}
	slices.Sort(names)
	n.entries = make([]entry, 0, len(names))
	for _, base := range names {
		e := entry{Item: Item{Local: filepath.Join(local, base), Entry: proto.Entry{Path: path.Join(name, base)}, root: w.root}}
		if w.x.byName(e.Path) {
			continue // not even stat'ed
		}
		if err := e.fill(func() (stat, error) { return d.lstat(base, e.Local) },
			func() (string, error) { return d.readlink(base, e.Local) }); err != nil {
			return err
		}
		if e.Kind == proto.KindDir && w.x.Excludes(e.Path, true) {
			continue
		}
		n.entries = append(n.entries, e)
	}
	return nil
}

// fill makes e, whose Local and Path are set, the entry for what lstat
// describes, reading a symlink's target with readlink. A name the protocol
// cannot carry, and a thing that cannot be stat'ed or read (it vanished, it
// is out of reach), make an omitted entry; a device, FIFO or socket a
// warning only. fill fails only when the system ran out of descriptors or
// memory.
func (e *entry) fill(lstat func() (stat, error), readlink func() (string, error)) error {
	if reason := unsendable(e.Path); reason != "" {
		e.omit(reason)
		return nil
	}
	st, err := lstat()
	if err != nil {
		if exhausted(err) {
			return err
		}
		e.omit(lostReason("cannot stat it", err))
		return nil
	}
	if hookStatted != nil {
		hookStatted(e.Local)
	}
	e.ID, e.Mode, e.MTime, e.nlink, e.Owner = st.id, st.perm, st.mtime, st.nlink, st.owner
	switch {
	case st.typ == 0:
		e.Kind, e.Size, e.Source = proto.KindFile, st.size, st.id.Tag()
	case st.typ == fs.ModeDir:
		e.Kind = proto.KindDir
	case st.typ == fs.ModeSymlink:
		target, err := readlink()
		if err != nil {
			if exhausted(err) {
				return err
			}
			e.omit(lostReason("cannot read the symlink", err))
			return nil
		}
		e.Kind, e.Target = proto.KindSymlink, target
	default:
		e.warn = fmt.Sprintf("%s: left out: %s is not a file, directory or symlink", e.Local, TypeName(st.typ))
		return nil
	}
	e.send = true
	return nil
}

// omit makes e an omitted entry, sent for reason and warned about.
func (e *entry) omit(reason string) {
	e.Item = Item{Local: e.Local, Entry: proto.Entry{Kind: proto.KindOmitted, Path: shown(e.Path), Reason: reason}, root: e.root}
	e.send = true
	e.warn = fmt.Sprintf("%s: not sent: %s", e.Local, reason)
}

// flatten appends n's items to items in walk order, each directory followed
// by its tree (or, for one that could not be listed, by nothing, its own
// entry sent as omitted), and passes on the warnings in the same order; it
// returns the first error in that order.
func (n *node) flatten(items []Item, warn func(string)) ([]Item, error) {
	<-n.done
	if n.err != nil {
		return nil, n.err
	}
	for i := range n.entries {
		e := &n.entries[i]
		if k := e.kid; k != nil {
			<-k.done
			if k.err != nil {
				return nil, k.err
			}
			if k.omit != "" {
				e.omit(k.omit)
			}
		}
		if e.warn != "" {
			warn(e.warn)
		}
		if !e.send {
			continue
		}
		items = append(items, e.Item)
		if k := e.kid; k != nil && k.omit == "" {
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

// exhausted reports an error that is about the system rather than one
// item (no descriptors or memory left): it ends the walk, since anything
// after it would be omitted for no fault of its own.
func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM)
}

// listReason says why a directory could not be listed.
func listReason(err error) string {
	if errors.Is(err, errReplaced) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP) {
		// openBeneath refuses what is not a directory, a symlink
		// included, on the way to the directory as at its end.
		return "it or a directory above it was replaced while the tree was listed, and not by a directory (a symlink is not followed)"
	}
	return lostReason("cannot list the directory", err)
}

// lostReason says why something found in a listing cannot be sent: it
// vanished, or what failed (doing) and the system's reason.
func lostReason(doing string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "vanished while the tree was listed"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return doing + ": " + err.Error()
}

// unsendable says why the protocol cannot carry the relative path rel, or
// returns "" if it can.
func unsendable(rel string) string {
	err := proto.CheckPath(rel)
	switch {
	case err == nil:
		return ""
	case strings.Contains(rel, `\`):
		return "the protocol cannot carry a backslash in a name"
	case len(rel) > proto.MaxPath:
		return fmt.Sprintf("the path is %d bytes long; the protocol carries at most %d", len(rel), proto.MaxPath)
	}
	for c := range strings.SplitSeq(rel, "/") {
		if len(c) > proto.MaxName {
			return fmt.Sprintf("a name of %d bytes; the protocol carries at most %d", len(c), proto.MaxName)
		}
	}
	return fmt.Sprintf("the protocol cannot carry this name (%v)", err)
}

// shown returns rel, or for one longer than the protocol carries its start
// and end around an ellipsis, cut between characters.
func shown(rel string) string {
	if len(rel) <= proto.MaxPath {
		return rel
	}
	head, tail := 1024, len(rel)-2048
	for head > 0 && !utf8.RuneStart(rel[head]) {
		head--
	}
	for tail < len(rel) && !utf8.RuneStart(rel[tail]) {
		tail++
	}
	return rel[:head] + "…" + rel[tail:]
}

// stat is what a walk needs to know of a file.
type stat struct {
	typ   fs.FileMode // type bits only: 0 for a regular file
	perm  uint32      // Unix permission bits (0o7777)
	size  int64
	mtime int64 // ns since the epoch
	id    FileID
	nlink uint64 // names the file has (1 where unknown)
	owner proto.Owner
}

// statOf converts what os.Lstat says.
func statOf(fi fs.FileInfo) stat {
	return stat{typ: fi.Mode().Type(), perm: modeBits(fi.Mode()), size: fi.Size(), mtime: fi.ModTime().UnixNano(), id: fileID(fi), nlink: linkCount(fi), owner: ownerOf(fi)}
}

// TypeName words a file type (fs.FileMode.Type()) with its article, for
// messages: "a symbolic link", "a FIFO (named pipe)", where ls -l's letter
// would not do ("a p---------" reached the user: issue 18; "a L---------"
// an attack review).
func TypeName(typ fs.FileMode) string {
	switch {
	case typ == 0:
		return "a regular file"
	case typ&fs.ModeDir != 0:
		return "a directory"
	case typ&fs.ModeSymlink != 0:
		return "a symbolic link"
	case typ&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case typ&fs.ModeSocket != 0:
		return "a socket"
	case typ&fs.ModeCharDevice != 0:
		return "a character device"
	case typ&fs.ModeDevice != 0:
		return "a block device"
	case typ&fs.ModeIrregular != 0:
		return "a file of an unknown type"
	}
	return fmt.Sprintf("a file of type %v", typ)
}
