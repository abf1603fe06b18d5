//go:build !linux

package part

// Umask returns the process's file mode creation mask where it can be
// read without changing it: not here (ok is false).
func Umask() (umask uint32, ok bool) { return 0, false }
