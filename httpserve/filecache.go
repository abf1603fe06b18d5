package httpserve

import (
	"container/list"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// DefaultOpenFiles is how many regular files the server keeps open between
// requests (Config.OpenFiles), at most a quarter of the process's limit on
// open files (RLIMIT_NOFILE).
const DefaultOpenFiles = 1024

// fileCache keeps recently served regular files open, with their
// representations (size, validators, media type and the header values made
// from them), so that a request for a file served before costs one stat of
// its name instead of an open, a stat, two fcntl and a close. It follows the
// disk: every hit stats the name again through the os.Root (lstat, so no
// symbolic link is followed that a fresh open would not follow, and none out
// of the root), and
//   - the same file (device and inode) with the same size, modification and
//     change times is served from the cached descriptor and representation;
//   - anything else (the file written, truncated, touched, its permissions
//     changed; the name deleted, renamed over, now a symbolic link, a
//     directory on its path swapped) drops the entry and opens the name
//     afresh, as a first request would.
//
// So the first request that starts after a change sees it. Bodies are
// always read from the descriptor, never from a copy in memory. A name whose
// last component is a symbolic link is served but not cached (its lstat
// never matches the file it leads to). The cache holds at most max entries,
// least recently used first out; an entry dropped while responses still
// send from it is closed when the last of them ends.
type fileCache struct {
	root  *os.Root
	dir   *os.File // the same directory, for lstatVersion; nil without one
	dirfd int      // dir's descriptor
	max   int      // entries; 0: nothing is cached
	// hideDot refuses a name that reaches a dotfile through a symbolic
	// link (leadsToDotfile), as fs.ErrNotExist: no Config.Dotfiles.
	hideDot bool

	mu     sync.Mutex
	byName map[string]*cachedFile
	lru    list.List // of *cachedFile, most recent first
	closed bool
}

// cachedFile is an open file and its representation. References are
// counted: the cache's own (while it is listed) and one per response.
type cachedFile struct {
	cache *fileCache // nil: not cached, closed by its one release
	name  string
	f     *os.File
	mode  fs.FileMode
	state atomic.Pointer[fileState] // regular files only

	refs int           // responses using it; under cache.mu
	elem *list.Element // in cache.lru, nil once dropped; under cache.mu
}

// fileState is one version of a cached file.
type fileState struct {
	id  fileID
	rep *representation
}

// fileID identifies a version of a file: the file (fi, compared with
// os.SameFile) and what changes when it is written.
type fileID struct {
	fi fs.FileInfo
	version
}

// version is what a stat says of a file's identity and contents: device and
// inode (0 where fs.FileInfo does not give them), size, and modification
// and change times in nanoseconds.
type version struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func idOf(fi fs.FileInfo) fileID {
	return fileID{fi: fi, version: versionOf(fi)}
}

// sameVersion reports whether a and b are the same version of one file.
func (a fileID) sameVersion(b fileID) bool {
	return a.version == b.version && os.SameFile(a.fi, b.fi)
}

// newFileCache makes a cache of at most max files under root, which is dir
// opened as an os.Root.
func newFileCache(root *os.Root, dir string, max int) *fileCache {
	if max > 0 {
		max = min(max, openFilesShare())
	}
	c := &fileCache{root: root, max: max, byName: make(map[string]*cachedFile)}
	c.openDir(dir)
	return c
}

func (e *cachedFile) isDir() bool     { return e.mode.IsDir() }
func (e *cachedFile) isRegular() bool { return e.mode.IsRegular() }

// rep returns the representation of a regular file's current version.
func (e *cachedFile) rep() *representation { return e.state.Load().rep }

// open returns name's file, with a reference the caller releases: from the
// cache if the name still leads to the version cached, else opened afresh
// (and cached if it is a regular file).
func (c *fileCache) open(name string) (*cachedFile, error) {
	c.mu.Lock()
	e := c.byName[name]
	if e != nil {
		e.refs++
		c.lru.MoveToFront(e.elem)
	}
	c.mu.Unlock()
	if e != nil {
		if c.revalidate(e) {
			return e, nil
		}
		c.drop(e)
		e.release()
	}
	return c.fill(name)
}

// revalidate reports whether e's name still leads to the version cached.
// Any change (a write, a truncation, a touch, a chmod or chown, which move
// the change time) drops the entry: the name is then opened afresh, through
// the os.Root and with the permission checks of a fresh open, as if it had
// never been cached.
func (c *fileCache) revalidate(e *cachedFile) bool {
	st := e.state.Load()
	if v, ok := c.lstatVersion(e.name); ok {
		return v == st.id.version
	}
	fi, err := c.root.Lstat(e.name)
	return err == nil && fi.Mode().IsRegular() && idOf(fi).sameVersion(st.id)
}

// fill opens name and caches it if it is a regular file reached without a
// symbolic link at its end.
func (c *fileCache) fill(name string) (*cachedFile, error) {
	if c.hideDot && leadsToDotfile(c.root, name) {
		return nil, fs.ErrNotExist
	}
	f, fi, err := openFile(c.root, name)
	if err != nil {
		return nil, err
	}
	e := &cachedFile{name: name, f: f, mode: fi.Mode(), refs: 1}
	if !fi.Mode().IsRegular() {
		return e, nil
	}
	e.state.Store(&fileState{id: idOf(fi), rep: newRepresentation(name, f, fi)})
	if c.max <= 0 {
		return e, nil
	}
	if lfi, err := c.root.Lstat(name); err != nil || !os.SameFile(lfi, fi) {
		return e, nil // a symbolic link, or changed already: not cached
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return e, nil
	}
	e.cache = c
	if old := c.byName[name]; old != nil {
		c.dropLocked(old)
	}
	c.byName[name] = e
	e.elem = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		c.dropLocked(c.lru.Back().Value.(*cachedFile))
	}
	return e, nil
}

// drop takes e out of the cache, if it is still there.
func (c *fileCache) drop(e *cachedFile) {
	c.mu.Lock()
	c.dropLocked(e)
	c.mu.Unlock()
}

func (c *fileCache) dropLocked(e *cachedFile) {
	if e.elem == nil {
		return
	}
	c.lru.Remove(e.elem)
	e.elem = nil
	if c.byName[e.name] == e {
		delete(c.byName, e.name)
	}
	if e.refs == 0 {
		e.f.Close()
	}
}

// release gives back one reference; the file is closed when it is out of
// the cache and no response uses it.
func (e *cachedFile) release() {
	c := e.cache
	if c == nil {
		e.f.Close()
		return
	}
	c.mu.Lock()
	e.refs--
	last := e.refs == 0 && e.elem == nil
	c.mu.Unlock()
	if last {
		e.f.Close()
	}
}

// close drops every entry; those in use are closed by their last release.
func (c *fileCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for c.lru.Len() > 0 {
		c.dropLocked(c.lru.Back().Value.(*cachedFile))
	}
	if c.dir != nil {
		c.dir.Close()
	}
}

// len returns the number of entries (for tests).
func (c *fileCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
