//go:build unix && !linux

package tree

// openat2Beneath never handles the call: only Linux has openat2(2).
func openat2Beneath(int, string, int) (fd int, handled bool, err error) { return -1, false, nil }
