//go:build !linux

package session

import (
	"os"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
)

// placeWhole writes a small file's body as a named part and renames it
// into place (Linux links an unnamed file instead).
func (p *placer) placeWhole(d *os.Root, base string, e *proto.Entry, body []byte) error {
	dir, err := p.dirFile(d)
	if err != nil {
		return err
	}
	return placeNamed(dir.pd, base, e, body, p.fsync, p.overwrite)
}

// hasDefaultACL matters only on Linux, where placeWhole may skip fchmod.
func hasDefaultACL(*part.Dir) bool { return false }
