//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The systems that rename a part without replacing by link(2) and
// unlink(2) alone: every one part_posix.go covers but Linux, which tries
// renameat2 first (rename_linux.go).

package part

// renameNoReplace renames old to new in the directory dfd unless new
// exists (EEXIST), by link and unlink.
func renameNoReplace(dfd int, old, new string) error { return linkThenUnlink(dfd, old, new) }
