//go:build !linux

package session

import (
	"os"

	"github.com/zcopy/zcopy/internal/proto"
)

// placeWhole writes a small file's body as a named part and renames it
// into place (Linux links an unnamed file instead).
func (p *placer) placeWhole(d *os.Root, base string, e *proto.Entry, body []byte) error {
	return placeNamed(d, base, e, body, p.fsync)
}

// readUmask is only needed on Linux.
func readUmask() (uint32, bool) { return 0, false }
