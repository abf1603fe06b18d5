//go:build !unix

package tree

import (
	"io/fs"

	"github.com/zcopy/zcopy/internal/proto"
)

func fileID(fs.FileInfo) FileID { return FileID{} }

// linkCount is 1 where the system says nothing of hard links.
func linkCount(fs.FileInfo) uint64 { return 1 }

// ownerOf is zero where the system has no numeric owners.
func ownerOf(fs.FileInfo) proto.Owner { return proto.Owner{} }
