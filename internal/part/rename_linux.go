package part

import "golang.org/x/sys/unix"

// renameNoReplace renames old to new in the directory dfd unless new
// exists (EEXIST): renameat2 with RENAME_NOREPLACE (Linux 3.15; ext4, xfs,
// btrfs, tmpfs), else, where the file system refuses the flag (EINVAL),
// link and unlink.
func renameNoReplace(dfd int, old, new string) error {
	err := unix.Renameat2(dfd, old, dfd, new, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		return linkThenUnlink(dfd, old, new)
	}
	return err
}
