//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package part

// renameNoReplace renames old to new in the directory dfd unless new
// exists (EEXIST), by link and unlink.
func renameNoReplace(dfd int, old, new string) error { return linkThenUnlink(dfd, old, new) }
