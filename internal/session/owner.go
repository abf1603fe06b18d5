package session

import (
	"os"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// ownerCost is what a receiver holds of each entry's owner (--owner):
// its record in r.owners, 2.25 times over as the slice grows.
const ownerCost = proto.OwnerSize * 9 / 4

// geteuid is os.Geteuid, replaced in tests that cannot run as root.
var geteuid = os.Geteuid

// applyOwners gives each entry that arrived, or was here already, the
// owner and group the sender sent (--owner), through the root and without
// following a symlink, where this end runs as root; elsewhere it says once
// that it cannot. A file's set-user-ID and set-group-ID bits, which
// chown(2) clears, are set again. Directories get their modes later
// (dirWork).
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
	for i, e := range r.entries {
		if failed[uint32(i)] || !e.Kind.Owned() {
			continue
		}
		switch r.plans[i] {
		case proto.ActionSend, proto.ActionSkip, proto.ActionDone:
		default:
			continue
		}
		ow := r.owners[i]
		if err := r.root.Lchown(e.Path, int(ow.UID), int(ow.GID)); err != nil {
			r.fail(i, "--owner: "+err.Error())
			continue
		}
		if e.Kind == proto.KindFile && e.Mode&0o6000 != 0 {
			if err := r.root.Chmod(e.Path, tree.FileMode(e.Mode)); err != nil {
				r.fail(i, "--owner: "+err.Error())
			}
		}
	}
}
