//go:build !unix

package tree

import "os"

// openDir opens the directory local for listing.
func openDir(local string) (*os.File, error) { return os.Open(local) }

// lstatAt stats the entry base of the directory d (at local) without
// following a symlink.
func lstatAt(_ *os.File, _, local string) (stat, error) {
	fi, err := os.Lstat(local)
	if err != nil {
		return stat{}, err
	}
	return statOf(fi), nil
}

// readlinkAt reads the target of the symlink base in the directory d (at
// local).
func readlinkAt(_ *os.File, _, local string) (string, error) { return os.Readlink(local) }
