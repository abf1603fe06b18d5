package session

import (
	"errors"
	"io/fs"
	"os"
	"path"

	"github.com/zcopy/zcopy/internal/proto"
)

// Hard links (send -H, issue 18): the sender lists a file's first name as
// a file and each other name as a proto.KindHardlink entry that names the
// first by its index in the manifest. The receiver plans such an entry
// when it arrives (its file must be an earlier file entry that it takes
// or has), and links it once the data phase is over and the file is in
// place: a link never names a part, and never a file that failed.

// planLink plans hard link e (entry i), at name in the receiver, which
// exists as fi if exists.
func (r *receiver) planLink(i int, e *proto.Entry, fi fs.FileInfo, exists bool) proto.Plan {
	if why := r.linkTarget(i, e); why != "" {
		return r.failLink(e, why)
	}
	if exists {
		t := &r.entries[e.Link]
		tfi, err := r.root.Lstat(t.Path)
		same := err == nil && os.SameFile(fi, tfi) && r.plans[e.Link] == proto.ActionSkip
		if !same && (!r.o.Overwrite || fi.IsDir()) {
			return r.refuse(e, "exists and is not the file it names")
		}
	}
	if !r.dry {
		r.links = append(r.links, i)
	}
	return proto.Plan{Action: proto.ActionDone}
}

// linkTarget says why hard link e (entry i) cannot be planned, or "".
func (r *receiver) linkTarget(i int, e *proto.Entry) string {
	if int(e.Link) >= i || r.entries[e.Link].Kind != proto.KindFile {
		return "a hard link that does not name a file listed before it"
	}
	if a := r.plans[e.Link]; a != proto.ActionSend && a != proto.ActionSkip {
		return "a hard link to " + r.entries[e.Link].Path + ", which is not taken here"
	}
	return ""
}

func (r *receiver) failLink(e *proto.Entry, why string) proto.Plan {
	r.o.warn(e.Path + ": " + why)
	r.noteFailed(e.Path + ": " + why)
	return proto.Plan{Action: proto.ActionFail, Message: why}
}

// makeLinks links the hard links planned, once every body is in: each to
// its file, if that arrived (or was here); a name that is already that
// file is left as it is. Both names are reached through their directories
// opened following no symlink: another session, or a local user, may have
// swapped a directory on the way for a link since the names were planned
// (an attack review: a file outside the transfer was replaced).
func (r *receiver) makeLinks() {
	if len(r.links) == 0 {
		return
	}
	failed := map[uint32]bool{}
	for _, f := range r.failures {
		failed[f.Index] = true
	}
	for _, i := range r.links {
		e := &r.entries[i]
		t := &r.entries[e.Link]
		if failed[e.Link] {
			r.fail(i, "its file, "+t.Path+", did not arrive")
			continue
		}
		if err := r.link(t.Path, e.Path); err != "" {
			r.fail(i, err)
			continue
		}
		r.res.Hardlinks++
	}
}

// link makes name a hard link to the file target (both arrived under the
// root), replacing what is at name only with Overwrite; it returns why it
// could not, or "".
func (r *receiver) link(target, name string) string {
	td, err := openDirNoFollow(r.root, path.Dir(target))
	if err != nil {
		return "its file, " + target + ", is not here: " + err.Error()
	}
	defer closeSub(r.root, td)
	tfi, err := td.Lstat(path.Base(target))
	if err != nil || !tfi.Mode().IsRegular() {
		return "its file, " + target + ", is not here"
	}
	nd, err := openDirNoFollow(r.root, path.Dir(name))
	if err != nil {
		return path.Dir(name) + ": " + err.Error()
	}
	defer closeSub(r.root, nd)
	base := path.Base(name)
	if fi, err := nd.Lstat(base); err == nil {
		if os.SameFile(fi, tfi) {
			return ""
		}
		// Planned with --overwrite (or the file was replaced since):
		// the name goes, then comes back as a link.
		if !r.o.Overwrite || fi.IsDir() {
			return "exists " + OverwriteHint
		}
		if err := nd.Remove(base); err != nil {
			return err.Error()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err.Error()
	}
	if err := linkAt(r.root, td, target, nd, name); err != nil {
		return err.Error()
	}
	return ""
}

// closeSub closes d unless it is root itself.
func closeSub(root, d *os.Root) {
	if d != root {
		d.Close()
	}
}
