package session

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/zcopy/zcopy/internal/proto"
)

// deleteExtraneous removes (--delete), under each directory of the
// manifest, every name the manifest does not list there, as rsync
// --delete does: only inside the trees sent, never above or beside them,
// and only once everything arrived (the caller checks). A part file
// (NAME.zcopy-part, NAME.zcopy-ranges) is another transfer's or a resume's
// and is kept. In a dry run it only says what it would remove.
func (r *receiver) deleteExtraneous() {
	listed := map[string]map[string]bool{} // directory -> names the manifest lists in it
	for i, e := range r.entries {
		if e.Kind == proto.KindDir && r.plans[i] == proto.ActionDone {
			if listed[e.Path] == nil {
				listed[e.Path] = map[string]bool{}
			}
		}
	}
	for _, e := range r.entries {
		if kids, ok := listed[path.Dir(e.Path)]; ok {
			kids[path.Base(e.Path)] = true
		}
	}
	dirs := make([]string, 0, len(listed))
	for d := range listed {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, dir := range dirs {
		if r.root == nil {
			break
		}
		d, err := openDirNoFollow(r.root, dir)
		if errors.Is(err, fs.ErrNotExist) && r.dry {
			continue // would be made: nothing to remove in it
		}
		if err != nil {
			r.o.warn(dir + ": --delete: " + err.Error() + ": nothing removed in it")
			continue
		}
		r.deleteIn(d, dir, listed[dir])
		if d != r.root {
			d.Close()
		}
	}
}

// deleteIn removes from d, the directory dir, the names not in listed (nor
// part files).
func (r *receiver) deleteIn(d *os.Root, dir string, listed map[string]bool) {
	f, err := d.Open(".")
	if err != nil {
		r.o.warn(dir + ": --delete: " + err.Error())
		return
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		r.o.warn(dir + ": --delete: " + err.Error())
		return
	}
	slices.Sort(names)
	for _, n := range names {
		if listed[n] || strings.HasSuffix(n, PartSuffix) || strings.HasSuffix(n, RangesSuffix) {
			continue
		}
		p := path.Join(dir, n)
		if r.dry {
			r.o.warn(p + ": would be deleted (--delete)")
			r.res.Deleted++
			continue
		}
		// RemoveAll of one name in the directory opened: a symlink
		// is removed, never followed.
		if err := d.RemoveAll(n); err != nil {
			r.o.warn(p + ": --delete: " + err.Error())
			continue
		}
		r.o.warn(p + ": deleted (--delete)")
		r.res.Deleted++
	}
}

// errSwapped reports a name on the way to a directory (one the receiver
// writes in, or --delete works in) that is not a directory: a symbolic
// link, or swapped while it was opened.
var errSwapped = errors.New("not a directory here (a symbolic link, or swapped while it was opened)")

// openDirNoFollow opens dir under root one name at a time, following no
// symbolic link: each name must be a directory when looked at (lstat) and
// still the same one once opened. os.Root alone would follow a link inside
// the root, so a directory swapped for a link between the transfer and
// --delete would have another directory's names removed. It returns root
// itself for ".".
func openDirNoFollow(root *os.Root, dir string) (*os.Root, error) {
	cur := root
	for _, seg := range strings.Split(dir, "/") {
		if seg == "." || seg == "" {
			continue
		}
		fi, err := cur.Lstat(seg)
		var next *os.Root
		if err == nil {
			if !fi.IsDir() {
				err = errSwapped
			} else if next, err = cur.OpenRoot(seg); err == nil {
				if st, serr := next.Stat("."); serr != nil || !os.SameFile(fi, st) {
					next.Close()
					next, err = nil, errSwapped
				}
			}
		}
		if cur != root {
			cur.Close()
		}
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}
