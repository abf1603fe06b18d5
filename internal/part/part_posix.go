//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package part

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Locking says whether this system locks parts: here with open file
// description locks (Linux) or flock(2).
const Locking = true

// Dir is a directory parts are made in, held open so that every operation
// on a part is one name long and relative to it. It is safe for
// concurrent use.
type Dir struct {
	f  *os.File
	fd int
	// noVersion is set once the file system refused to keep a part's
	// version: no part made here can be continued.
	noVersion atomic.Bool
}

// OpenDir opens the directory name of root ("." for root itself) for
// parts. It is opened through root, so it is inside it.
func OpenDir(root *os.Root, name string) (*Dir, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		f.Close()
		if err == nil {
			err = &os.PathError{Op: "open", Path: name, Err: unix.ENOTDIR}
		}
		return nil, err
	}
	return &Dir{f: f, fd: int(f.Fd())}, nil
}

// Fd is the directory's descriptor, valid until Close.
func (d *Dir) Fd() int { return d.fd }

// Close closes the directory. Parts opened in it must be finished first.
func (d *Dir) Close() error { return d.f.Close() }

// File is a part this process holds: open for reading and writing, and
// locked, until Place, Discard or Keep.
type File struct {
	*os.File
	dir       *Dir
	name      string
	fd        int
	versioned bool // the part carries a version record, removed at Place
}

// maxTries bounds how often Open starts again because the name changed
// under it (another holder placed or removed the part, a symlink was
// planted again).
const maxTries = 8

// Open takes the part name in d for a file of version v.
//
// Without resume, the part is new and empty: created with O_EXCL, after
// removing a part that is already there if nobody holds it (one left by an
// interrupted transfer). With resume, an existing part is kept if it holds
// the start of the same version (and is no longer than it), has one link
// and belongs to this process's user, and off is its length; any other is
// removed and made anew, and why says why it was not continued. A part is
// never truncated or written in place when it is not continued: a hard link
// planted under a part's name cannot carry the network's bytes into the
// file it links to. A symlink or other non-file under the name is removed,
// never followed; a directory is an error. The zero Version records
// nothing: such a part (a whole small file, a raw receive) is never
// continued.
//
// The error is an *Error; errors.Is(err, ErrBusy) when another transfer
// holds the part or the other part of the same final name.
func Open(d *Dir, name string, v Version, resume bool) (f *File, off int64, why string, err error) {
	for range maxTries {
		fd, err := openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == nil {
			if err := lock(fd); err != nil {
				// Another process opened our new file by its name and
				// locked it first: it is theirs now.
				unix.Close(fd)
				return nil, 0, "", lockError(name, err)
			}
			if !d.isAt(fd, name) {
				// Taken over, placed or removed between our create and
				// our lock: not ours to write.
				unix.Close(fd)
				continue
			}
			f := d.newFile(fd, name)
			if v != (Version{}) {
				if err := d.siblingBusy(name); err != nil {
					f.Discard()
					return nil, 0, "", err
				}
				f.setVersion(v)
			}
			return f, 0, why, nil
		}
		if err != unix.EEXIST {
			return nil, 0, "", &Error{Op: "open", Name: name, Err: err}
		}
		fd, again, err := d.takeOver(name)
		if again {
			continue
		}
		if err != nil {
			return nil, 0, "", err
		}
		f := d.newFile(fd, name)
		if resume && why == "" {
			if off, why = f.continues(v); off > 0 {
				if err := d.siblingBusy(name); err != nil {
					f.Keep()
					return nil, 0, "", err
				}
				f.versioned = true
				return f, off, "", nil
			}
		}
		// Not continued: remove it (we hold it, and it is still under the
		// name) and make a new one.
		if err := unix.Unlinkat(d.fd, name, 0); err != nil && err != unix.ENOENT {
			f.Keep()
			return nil, 0, "", &Error{Op: "open", Name: name, Err: fmt.Errorf("removing the old part: %w", err)}
		}
		f.Keep()
	}
	return nil, 0, "", &Error{Op: "open", Name: name, Err: errors.New("the name kept changing under zcopy (another process is replacing it)")}
}

// isAt reports whether fd is the file under name in d.
func (d *Dir) isAt(fd int, name string) bool {
	var a, b unix.Stat_t
	return unix.Fstat(fd, &a) == nil && fstatat(d.fd, name, &b) == nil && a.Dev == b.Dev && a.Ino == b.Ino
}

// takeOver opens and locks the existing part name. again means the name
// changed meanwhile (or held something that was not a part and is gone
// now) and the caller should start over.
func (d *Dir) takeOver(name string) (fd int, again bool, err error) {
	var st unix.Stat_t
	switch err := fstatat(d.fd, name, &st); {
	case err == unix.ENOENT:
		return -1, true, nil
	case err != nil:
		return -1, false, &Error{Op: "open", Name: name, Err: err}
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return -1, false, &Error{Op: "open", Name: name, Err: errors.New("is a directory, not a part")}
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		// A symlink, FIFO, socket or device under a reserved name was
		// not made by zcopy: remove it, never open or follow it.
		if err := unix.Unlinkat(d.fd, name, 0); err != nil && err != unix.ENOENT {
			return -1, false, &Error{Op: "open", Name: name, Err: fmt.Errorf("removing what is not a part: %w", err)}
		}
		return -1, true, nil
	}
	fd, err = openat(d.fd, name, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ENOENT || err == unix.ELOOP:
		return -1, true, nil // gone, or swapped for a symlink: look again
	case err != nil:
		return -1, false, &Error{Op: "open", Name: name, Err: err}
	}
	var got unix.Stat_t
	if err := unix.Fstat(fd, &got); err != nil || got.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, true, nil
	}
	if err := lock(fd); err != nil {
		unix.Close(fd)
		return -1, false, lockError(name, err)
	}
	// The holder we waited for may have placed or removed the part
	// between our open and our lock: then fd is no longer the part.
	if !d.isAt(fd, name) {
		unix.Close(fd)
		return -1, true, nil
	}
	return fd, false, nil
}

// siblingBusy returns ErrBusy (in an *Error) if the other part of the same
// final name (NAME.zcopy-ranges for NAME.zcopy-part, and the reverse) is
// held by another transfer: one receiving a file whole and one receiving
// it in ranges must not both write it. Two that start at the same moment
// can both pass; then the second to finish finds the name taken (Place's
// ErrExist) and the file is still never mixed.
func (d *Dir) siblingBusy(name string) error {
	other := sibling(name)
	var st unix.Stat_t
	if other == "" || fstatat(d.fd, other, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	fd, err := openat(d.fd, other, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	if heldByOther(fd) {
		return &Error{Op: "lock", Name: other, Err: ErrBusy}
	}
	return nil
}

func (d *Dir) newFile(fd int, name string) *File {
	return &File{File: os.NewFile(uintptr(fd), name), dir: d, name: name, fd: fd}
}

func lockError(name string, err error) error {
	if err == unix.EWOULDBLOCK || err == unix.EAGAIN {
		err = ErrBusy
	}
	return &Error{Op: "lock", Name: name, Err: err}
}

// continues decides whether the part holds the start of version v and may
// be written on: it returns the offset to continue from, or 0 and why not.
func (f *File) continues(v Version) (off int64, why string) {
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return 0, "the part cannot be examined; starting over"
	}
	if st.Size == 0 {
		return 0, ""
	}
	if f.dir.noVersion.Load() {
		return 0, "this file system keeps no record of which version a part holds; starting over"
	}
	if st.Nlink != 1 || int(st.Uid) != os.Geteuid() {
		return 0, "the part has other links or another owner, so it is not written on; starting over"
	}
	got, err := getVersion(f.fd)
	switch {
	case errors.Is(err, errNoVersions):
		f.dir.noVersion.Store(true)
		return 0, "this file system keeps no record of which version a part holds; starting over"
	case err != nil:
		return 0, "the part records no version of the file; starting over"
	case v == (Version{}) || got != v:
		return 0, "the source changed since the part was written (size, mtime or identity differ); starting over"
	case st.Size > v.Size:
		return 0, "the part is longer than the file; starting over"
	}
	return st.Size, ""
}

// setVersion records v on the part. A file system that keeps no extended
// attributes, or refuses this one (quota, permissions, a full attribute
// block), is not an error: such a part is never continued.
func (f *File) setVersion(v Version) {
	if f.dir.noVersion.Load() {
		return
	}
	switch err := putVersion(f.fd, v); {
	case err == nil:
		f.versioned = true
	case errors.Is(err, errNoVersions):
		f.dir.noVersion.Store(true)
	}
}

// SetTimes sets the part's access and modification times to t (one
// utimensat, by its name in its directory, which the lock makes ours).
func (f *File) SetTimes(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.UtimesNanoAt(f.dir.fd, f.name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &Error{Op: "utimensat", Name: f.name, Err: err}
	}
	return nil
}

// Truncate cuts the part to size bytes.
func (f *File) Truncate(size int64) error {
	if err := unix.Ftruncate(f.fd, size); err != nil {
		return &Error{Op: "truncate", Name: f.name, Err: err}
	}
	return nil
}

// Place closes the part and renames it to final in the same directory,
// with the lock held until the rename is done. Without replace, a file
// that appeared under final meanwhile is kept and the error matches
// ErrExist. On any error the part is removed: the file arrives whole or
// not at all.
func (f *File) Place(final string, replace bool) error {
	// A duplicate descriptor keeps the lock while Close reports what the
	// file system has to say (write-back errors on some).
	dup, err := unix.FcntlInt(uintptr(f.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		f.Discard()
		return &Error{Op: "place", Name: f.name, Err: err}
	}
	defer unix.Close(dup)
	if f.versioned {
		dropVersion(f.fd)
	}
	if err := f.File.Close(); err != nil {
		unix.Unlinkat(f.dir.fd, f.name, 0)
		return &Error{Op: "place", Name: f.name, Err: fmt.Errorf("close: %w", err)}
	}
	if replace {
		err = unix.Renameat(f.dir.fd, f.name, f.dir.fd, final)
	} else {
		err = renameNoReplace(f.dir.fd, f.name, final)
	}
	if err != nil {
		unix.Unlinkat(f.dir.fd, f.name, 0)
		if err == unix.EEXIST {
			return &Error{Op: "place", Name: final, Err: ErrExist}
		}
		return &Error{Op: "place", Name: f.name, Err: err}
	}
	return nil
}

// Discard removes the part and closes it.
func (f *File) Discard() error {
	err := unix.Unlinkat(f.dir.fd, f.name, 0)
	f.File.Close()
	if err != nil && err != unix.ENOENT {
		return &Error{Op: "discard", Name: f.name, Err: err}
	}
	return nil
}

// Keep closes the part and leaves it for a later resume.
func (f *File) Keep() error { return f.File.Close() }

func openat(dfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dfd, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstatat(dfd int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// linkThenUnlink renames old to new without replacing new: link fails
// with EEXIST if new exists. Where the file system has no hard links
// (vfat, exFAT) it falls back to a look and a rename, which can replace a
// file that appears in between.
func linkThenUnlink(dfd int, old, new string) error {
	switch err := unix.Linkat(dfd, old, dfd, new, 0); err {
	case nil:
		return unix.Unlinkat(dfd, old, 0)
	case unix.EPERM, unix.EOPNOTSUPP, unix.EMLINK, unix.ENOSYS:
		var st unix.Stat_t
		if fstatat(dfd, new, &st) == nil {
			return unix.EEXIST
		}
		return unix.Renameat(dfd, old, dfd, new)
	default:
		return err
	}
}
