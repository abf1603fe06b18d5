package session

import (
	"io/fs"
	"os"
	"path"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// ownerCost is what a receiver holds of each entry's owner (--owner):
// its record in r.owners, 2.25 times over as the slice grows.
const ownerCost = proto.OwnerSize * 9 / 4

// geteuid is os.Geteuid, replaced in tests that cannot run as root.
var geteuid = os.Geteuid

// applyOwners gives each entry that arrived, or was here already, the
// owner and group the sender sent (--owner), where this end runs as root;
// elsewhere it says once that it cannot. Each name is reached through its
// directory, opened following no symlink, and changed only if it is still
// what the entry is (a file, a directory, a symlink): another session, or
// a local user, may have swapped a directory on the way, or the name, for
// a symlink since the data phase (an attack review: a file outside the
// transfer became setuid 7777). A file's set-user-ID and set-group-ID
// bits, with which files are not placed (placedMode), are set once it has
// its owner. Directories get their modes later (dirWork).
func (r *receiver) applyOwners() {
	if !r.owned || len(r.owners) == 0 {
		return
	}
	if geteuid() != 0 {
		r.o.warn("--owner: this receiver does not run as root, so files keep its own owner")
		return
	}
	failed := map[uint32]bool{}
	for _, f := range r.failures {
		failed[f.Index] = true
	}
	var dir string
	var d *os.Root
	defer func() {
		if d != nil && d != r.root {
			d.Close()
		}
	}()
	for i, e := range r.entries {
		if failed[uint32(i)] || !e.Kind.Owned() {
			continue
		}
		switch r.plans[i] {
		case proto.ActionSend, proto.ActionSkip, proto.ActionDone:
		default:
			continue
		}
		if p := path.Dir(e.Path); d == nil || p != dir {
			if d != nil && d != r.root {
				d.Close()
			}
			var err error
			if d, err = openDirNoFollow(r.root, p); err != nil {
				d = nil
				r.fail(i, "--owner: "+p+": "+err.Error())
				continue
			}
			dir = p
		}
		base := path.Base(e.Path)
		fi, err := d.Lstat(base)
		if err != nil {
			r.fail(i, "--owner: "+err.Error())
			continue
		}
		if !sameKind(e.Kind, fi.Mode()) {
			r.fail(i, "--owner: no longer what arrived: now "+tree.TypeName(fi.Mode().Type())+"; its owner was not set")
			continue
		}
		ow := r.owners[i]
		if err := d.Lchown(base, int(ow.UID), int(ow.GID)); err != nil {
			r.fail(i, "--owner: "+err.Error())
			continue
		}
		if e.Kind != proto.KindSymlink && e.Kind != proto.KindDir && e.Mode&0o6000 != 0 {
			if err := d.Chmod(base, tree.FileMode(e.Mode)); err != nil {
				r.fail(i, "--owner: "+err.Error())
			}
		}
	}
}

// sameKind reports whether a name of mode m is what an entry of kind k
// makes: a regular file for a file or a range of one, a directory, a
// symlink.
func sameKind(k proto.Kind, m fs.FileMode) bool {
	switch k {
	case proto.KindDir:
		return m.IsDir()
	case proto.KindSymlink:
		return m&fs.ModeSymlink != 0
	default:
		return m.IsRegular()
	}
}
