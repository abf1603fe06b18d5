//go:build !unix

package session

import "os"

// linkAt makes newPath a hard link to oldPath (both under root). Outside
// Unix it links through root by path (os.Root.Link), which follows a
// symlink inside the root on the way; the directories are not used.
func linkAt(root *os.Root, _ *os.Root, oldPath string, _ *os.Root, newPath string) error {
	return root.Link(oldPath, newPath)
}
