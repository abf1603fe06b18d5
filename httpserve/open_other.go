//go:build !unix

package httpserve

import "os"

// openNoBlock opens name for reading. Systems outside the unix family have
// no FIFOs that block open.
func openNoBlock(root *os.Root, name string) (*os.File, error) {
	return root.Open(name)
}

// setBlocking has nothing to do here.
func setBlocking(*os.File) error { return nil }
