package session

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// planDry answers one entry of a dry run (proto.FlagDryRun) as plan
// would, making and writing nothing: it only looks (lstat through the
// root). A directory that does not exist is one that would be made, so
// nothing under it is looked for. A file with a part here is planned from
// its start: whether the part would be continued is not worked out.
func (r *receiver) planDry(e *proto.Entry) proto.Plan {
	failPlan := func(msg string) proto.Plan {
		r.o.warn(e.Path + ": " + msg)
		r.noteFailed(e.Path + ": " + msg)
		return proto.Plan{Action: proto.ActionFail, Message: msg}
	}
	switch {
	case e.Kind == proto.KindOmitted:
		return failPlan("not sent: " + e.Reason)
	case e.Kind == proto.KindRange:
		return failPlan("a range of a file in a dry run (one goes over one stream)")
	case strings.HasSuffix(e.Path, PartSuffix) || strings.HasSuffix(e.Path, RangesSuffix):
		return failPlan(fmt.Sprintf("names ending in %s or %s are reserved", PartSuffix, RangesSuffix))
	}
	dir := path.Dir(e.Path)
	// A directory that would be made holds nothing yet; with no root at
	// all (a --dir that does not exist), nothing is there.
	absent := r.fresh[dir] || r.root == nil
	if dir != "." && !absent && !r.made[dir] {
		// Following no symlink on the way, as the transfer would (at).
		d, err := openDirNoFollow(r.root, dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			r.fresh[dir], absent = true, true
		case errors.Is(err, errSwapped):
			return failPlan("a directory above it exists and is not a directory")
		case err != nil:
			return failPlan(err.Error())
		default:
			d.Close()
			r.made[dir] = true
		}
	}
	var fi fs.FileInfo
	exists := false
	if !absent {
		var err error
		fi, err = r.root.Lstat(e.Path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return failPlan(err.Error())
		}
		exists = err == nil
	}
	switch e.Kind {
	case proto.KindDir:
		if exists && !fi.IsDir() {
			return failPlan("exists and is not a directory")
		}
		if exists {
			r.made[e.Path] = true
		} else {
			r.fresh[e.Path] = true
		}
		r.res.Dirs++
		return proto.Plan{Action: proto.ActionDone}
	case proto.KindHardlink:
		p := r.planLink(len(r.entries)-1, e, fi, exists)
		if p.Action == proto.ActionDone {
			r.res.Hardlinks++
		}
		return p
	case proto.KindSymlink:
		if exists {
			if t, err := r.root.Readlink(e.Path); err == nil && t == e.Target {
				r.res.Symlinks++
				return proto.Plan{Action: proto.ActionDone}
			}
			if !r.o.Overwrite || fi.IsDir() {
				r.noteFailed(e.Path + ": exists and differs")
				return proto.Plan{Action: proto.ActionRefuse, Message: "exists and differs " + OverwriteHint}
			}
		}
		r.res.Symlinks++
		return proto.Plan{Action: proto.ActionDone}
	}
	if exists {
		switch {
		case !fi.Mode().IsRegular():
			return failPlan(fmt.Sprintf("exists and is %s, not a file", tree.TypeName(fi.Mode().Type())))
		case fi.Size() == e.Size && fi.ModTime().UnixNano() == e.MTime:
			r.res.Skipped++
			r.res.Files++
			r.res.Bytes += e.Size
			return proto.Plan{Action: proto.ActionSkip}
		case !r.o.Overwrite:
			r.noteFailed(e.Path + ": exists and differs")
			return proto.Plan{Action: proto.ActionRefuse, Message: "exists and differs " + OverwriteHint}
		}
	}
	r.res.Files++
	r.res.Bytes += e.Size
	r.res.ToSend++
	return proto.Plan{Action: proto.ActionSend}
}
