package session

import (
	"errors"
	"io/fs"
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
		f, err := r.root.Open(dir)
		if errors.Is(err, fs.ErrNotExist) && r.dry {
			continue // would be made: nothing to remove in it
		}
		if err != nil {
			r.o.warn(dir + ": --delete: " + err.Error())
			continue
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			r.o.warn(dir + ": --delete: " + err.Error())
			continue
		}
		slices.Sort(names)
		for _, n := range names {
			if listed[dir][n] || strings.HasSuffix(n, PartSuffix) || strings.HasSuffix(n, RangesSuffix) {
				continue
			}
			p := path.Join(dir, n)
			if r.dry {
				r.o.warn(p + ": would be deleted (--delete)")
				r.res.Deleted++
				continue
			}
			// RemoveAll, through the root: a symlink is removed, never
			// followed.
			if err := r.root.RemoveAll(p); err != nil {
				r.o.warn(p + ": --delete: " + err.Error())
				continue
			}
			r.o.warn(p + ": deleted (--delete)")
			r.res.Deleted++
		}
	}
}
