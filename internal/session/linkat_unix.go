//go:build unix

package session

import (
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// linkAt makes newPath a hard link to oldPath (both under root), given
// their directories opened following no symlink (openDirNoFollow): with
// linkat(2) on those directories' descriptors, so that no symlink is
// followed on the way to either name, as os.Root.Link, which resolves
// both paths from the root again, would for a link inside it. A symlink
// at oldPath is linked as itself (no AT_SYMLINK_FOLLOW).
func linkAt(_ *os.Root, oldDir *os.Root, oldPath string, newDir *os.Root, newPath string) error {
	od, err := oldDir.Open(".")
	if err != nil {
		return err
	}
	defer od.Close()
	nd, err := newDir.Open(".")
	if err != nil {
		return err
	}
	defer nd.Close()
	_, err = ignoringEINTR(func() (struct{}, error) {
		return struct{}{}, unix.Linkat(int(od.Fd()), path.Base(oldPath), int(nd.Fd()), path.Base(newPath), 0)
	})
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldPath, New: newPath, Err: err}
	}
	return nil
}
