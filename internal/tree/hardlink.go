package tree

import "github.com/zcopy/zcopy/internal/proto"

// HardLinks turns each file of items that is another name of a file
// listed before it (the same device and inode, a file with more than one
// name) into a hard-link item (proto.KindHardlink) naming that first
// file's index in items, as rsync -H does: the file's bytes are then sent
// once and the receiver links the other names to it. Only files with
// more than one name are remembered, so a tree without hard links costs
// nothing. Where the system gives no file identity nothing changes.
func HardLinks(items []Item) []Item {
	var first map[FileID]uint32
	for i := range items {
		it := &items[i]
		if it.Kind != proto.KindFile || it.nlink < 2 || it.ID == (FileID{}) {
			continue
		}
		if first == nil {
			first = map[FileID]uint32{}
		}
		j, ok := first[it.ID]
		if !ok {
			first[it.ID] = uint32(i)
			continue
		}
		it.Entry = proto.Entry{Kind: proto.KindHardlink, Path: it.Path, Link: j}
	}
	return items
}
