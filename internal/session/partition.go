package session

import (
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// splitMin is the smallest file that Partition cuts into ranges, and
// rangeAlign the boundary its ranges start on.
const (
	splitMin   = 64 << 20
	rangeAlign = 1 << 20
)

// Partition spreads items over n streams. Directories, symlinks, hard
// links and omitted items (which carry no body and are never cut), and
// the files that hard links name (whole), go to stream 0. A file of at least splitMin bytes is cut into n ranges, one per
// stream; any other file goes to the stream that has the fewest bytes so
// far, so that small files travel in batches on every stream. Each stream
// keeps walk order.
func Partition(items []tree.Item, n int) [][]tree.Item {
	parts := make([][]tree.Item, n)
	load := make([]int64, n)
	// A hard link names its file by index in its own manifest: both go
	// on stream 0, the file whole, and the link's index is the file's
	// there.
	var at map[uint32]uint32 // a linked file's index in items -> in parts[0]
	for _, it := range items {
		if it.Kind == proto.KindHardlink {
			if at == nil {
				at = map[uint32]uint32{}
			}
			at[it.Link] = 0
		}
	}
	for i, it := range items {
		_, linked := at[uint32(i)]
		switch {
		case it.Kind == proto.KindHardlink:
			it.Link = at[it.Link]
			parts[0] = append(parts[0], it)
		case linked && it.Kind == proto.KindFile:
			at[uint32(i)] = uint32(len(parts[0]))
			parts[0] = append(parts[0], it)
			load[0] += it.Size
		case it.Kind != proto.KindFile:
			parts[0] = append(parts[0], it)
		case it.Size >= splitMin && n > 1:
			step := (it.Size/int64(n) + rangeAlign - 1) / rangeAlign * rangeAlign
			for i, off := 0, int64(0); off < it.Size; i, off = i+1, off+step {
				r := it
				r.Kind, r.Offset, r.Length = proto.KindRange, off, min(step, it.Size-off)
				parts[i] = append(parts[i], r)
				load[i] += r.Length
			}
		default:
			least := 0
			for i := range load {
				if load[i] < load[least] {
					least = i
				}
			}
			parts[least] = append(parts[least], it)
			load[least] += it.Size
		}
	}
	return parts
}
