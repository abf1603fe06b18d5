//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package part

import (
	"errors"
	"os"
	"time"
)

// Locking and Versioning say whether this system keeps a part's lock and
// version: not here, so two transfers can write one name and no part is
// ever continued.
const (
	Locking    = false
	Versioning = false
)

// Dir is a directory parts are made in.
type Dir struct{ root *os.Root }

// OpenDir opens the directory name of root ("." for root itself) for parts.
func OpenDir(root *os.Root, name string) (*Dir, error) {
	r, err := root.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	return &Dir{root: r}, nil
}

// Close closes the directory.
func (d *Dir) Close() error { return d.root.Close() }

// File is a part this process holds, until Place, Discard or Keep.
type File struct {
	*os.File
	dir  *Dir
	name string
}

// Open takes the part name in d: created anew with O_EXCL (os.Root never
// follows a symlink then), after removing whatever held the name. Parts are
// never continued here, so off is 0 and resume only says so.
func Open(d *Dir, name string, v Version, resume bool) (f *File, off int64, why string, err error) {
	for range maxTries {
		fh, err := d.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if resume {
				why = "parts are not continued on this system; starting over"
			}
			return &File{File: fh, dir: d, name: name}, 0, why, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, 0, "", &Error{Op: "open", Name: name, Err: err}
		}
		if err := d.root.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, 0, "", &Error{Op: "open", Name: name, Err: err}
		}
	}
	return nil, 0, "", &Error{Op: "open", Name: name, Err: errors.New("the name kept changing under zcopy")}
}

const maxTries = 8

// SetTimes sets the part's access and modification times to t.
func (f *File) SetTimes(t time.Time) error { return f.dir.root.Chtimes(f.name, t, t) }

// Truncate cuts the part to size bytes.
func (f *File) Truncate(size int64) error { return f.File.Truncate(size) }

// Place closes the part and renames it to final; without replace, an
// existing final is kept (looked at first: not atomic here).
func (f *File) Place(final string, replace bool) error {
	if err := f.File.Close(); err != nil {
		f.dir.root.Remove(f.name)
		return &Error{Op: "place", Name: f.name, Err: err}
	}
	if !replace {
		if _, err := f.dir.root.Lstat(final); err == nil {
			f.dir.root.Remove(f.name)
			return &Error{Op: "place", Name: final, Err: ErrExist}
		}
	}
	if err := f.dir.root.Rename(f.name, final); err != nil {
		f.dir.root.Remove(f.name)
		return &Error{Op: "place", Name: f.name, Err: err}
	}
	return nil
}

// Discard removes the part and closes it.
func (f *File) Discard() error {
	f.File.Close()
	if err := f.dir.root.Remove(f.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &Error{Op: "discard", Name: f.name, Err: err}
	}
	return nil
}

// Keep closes the part and leaves it.
func (f *File) Keep() error { return f.File.Close() }
