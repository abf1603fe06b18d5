//go:build !unix

package tree

import (
	"errors"
	"os"
	"path/filepath"
)

// top is a root directory of a walk, open as an os.Root: what is under it
// is opened through the Root, which refuses a path that leaves it (by
// "..", or by a symlink that points outside it), though it follows one
// that stays inside.
type top struct{ r *os.Root }

// openTop opens the directory path. The system gives no identity to
// compare (FileID{}).
func openTop(path string) (top, FileID, error) {
	r, err := os.OpenRoot(path)
	return top{r}, FileID{}, err
}

func (t top) close() { t.r.Close() }

// dir is a directory open for listing; its entries are stat'ed and read
// through the Root, by their path relative to it.
type dir struct {
	*os.File
	t   top
	rel string
}

// openDir opens the directory rel beneath t (at local) for listing.
func (t top) openDir(rel, local string) (dir, error) {
	f, err := t.openFile(rel, local)
	return dir{f, t, rel}, err
}

// openFile opens the file rel beneath t (at local) for reading.
func (t top) openFile(rel, local string) (*os.File, error) {
	f, err := t.r.Open(rel)
	return f, named(err, local)
}

// lstat stats the entry base of d (at local) without following a symlink.
func (d dir) lstat(base, local string) (stat, error) {
	fi, err := d.t.r.Lstat(filepath.Join(d.rel, base))
	if err != nil {
		return stat{}, named(err, local)
	}
	return statOf(fi), nil
}

// readlink reads the target of the symlink base in d (at local).
func (d dir) readlink(base, local string) (string, error) {
	target, err := d.t.r.Readlink(filepath.Join(d.rel, base))
	return target, named(err, local)
}

// named gives a Root's *os.PathError the local path of what it names.
func named(err error, local string) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return &os.PathError{Op: pe.Op, Path: local, Err: pe.Err}
	}
	return err
}

// openPath opens local, a file or directory, by its path.
func openPath(local string, _ bool) (*os.File, error) { return os.Open(local) }
