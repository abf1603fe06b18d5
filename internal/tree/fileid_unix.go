//go:build unix

package tree

import (
	"io/fs"
	"syscall"

	"github.com/zcopy/zcopy/internal/proto"
)

// linkCount returns how many names fi's file has (st_nlink), 1 where the
// system does not say.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// ownerOf returns fi's numeric owner and group.
func ownerOf(fi fs.FileInfo) proto.Owner {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return proto.Owner{UID: st.Uid, GID: st.Gid}
	}
	return proto.Owner{}
}

func fileID(fi fs.FileInfo) FileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	}
	return FileID{}
}
