package session

import (
	"errors"
	"io/fs"
	"os"

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
// file is left as it is.
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
		tfi, err := r.root.Lstat(t.Path)
		if err != nil || !tfi.Mode().IsRegular() {
			r.fail(i, "its file, "+t.Path+", is not here")
			continue
		}
		if fi, err := r.root.Lstat(e.Path); err == nil {
			if os.SameFile(fi, tfi) {
				r.res.Hardlinks++
				continue
			}
			// Planned with --overwrite (or the file was replaced since):
			// the name goes, then comes back as a link.
			if !r.o.Overwrite || fi.IsDir() {
				r.fail(i, "exists "+OverwriteHint)
				continue
			}
			if err := r.root.Remove(e.Path); err != nil {
				r.fail(i, err.Error())
				continue
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			r.fail(i, err.Error())
			continue
		}
		if err := r.root.Link(t.Path, e.Path); err != nil {
			r.fail(i, err.Error())
			continue
		}
		r.res.Hardlinks++
	}
}
