package session

import (
	"testing"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

func TestPartition(t *testing.T) {
	item := func(kind proto.Kind, path string, size int64) tree.Item {
		return tree.Item{Entry: proto.Entry{Kind: kind, Path: path, Size: size}}
	}
	items := []tree.Item{
		item(proto.KindDir, "d", 0),
		item(proto.KindFile, "d/big", 300<<20+5),
		item(proto.KindSymlink, "d/l", 0),
		item(proto.KindFile, "d/a", 10),
		item(proto.KindFile, "d/b", 20),
		item(proto.KindFile, "d/c", 30),
		item(proto.KindFile, "d/empty", 0),
		// An omitted item has no body; one with a size (no walk makes
		// one) is still never cut.
		item(proto.KindOmitted, "d/unlistable", 0),
		item(proto.KindOmitted, "d/huge", 300<<20),
	}
	for _, n := range []int{1, 2, 3, 4, 7} {
		parts := Partition(items, n)
		if len(parts) != n {
			t.Fatalf("n=%d: %d parts", n, len(parts))
		}
		covered := map[string]int64{}
		files := map[string]int{}
		for i, p := range parts {
			for _, it := range p {
				switch it.Kind {
				case proto.KindDir, proto.KindSymlink, proto.KindOmitted:
					if i != 0 {
						t.Errorf("n=%d: %s on stream %d", n, it.Path, i)
					}
					files[it.Path]++
				case proto.KindRange:
					if it.Offset != covered[it.Path] || it.Length <= 0 || it.Offset%rangeAlign != 0 {
						t.Errorf("n=%d: range %d+%d of %s after %d", n, it.Offset, it.Length, it.Path, covered[it.Path])
					}
					covered[it.Path] += it.Length
				case proto.KindFile:
					files[it.Path]++
				}
			}
		}
		if n > 1 && covered["d/big"] != 300<<20+5 {
			t.Errorf("n=%d: ranges of d/big cover %d bytes", n, covered["d/big"])
		}
		if n == 1 && files["d/big"] != 1 {
			t.Errorf("n=1: d/big was split")
		}
		for _, f := range []string{"d/a", "d/b", "d/c", "d/empty", "d/unlistable", "d/huge"} {
			if files[f] != 1 {
				t.Errorf("n=%d: %s sent %d times", n, f, files[f])
			}
		}
	}
}

func TestGroupRanges(t *testing.T) {
	gs := &Groups{}
	g := gs.join("h", proto.Hello{Group: 9, Stream: 0, Streams: 2})
	if g2 := gs.join("h", proto.Hello{Group: 9, Stream: 1, Streams: 2}); g2 != g {
		t.Fatal("the streams of one group got two groups")
	}
	if g3 := gs.join("other-host", proto.Hello{Group: 9, Stream: 1, Streams: 2}); g3 == g {
		t.Fatal("a group was shared across hosts")
	}
	a := proto.Entry{Kind: proto.KindRange, Path: "f", Size: 100, Offset: 0, Length: 60}
	b := proto.Entry{Kind: proto.KindRange, Path: "f", Size: 100, Offset: 60, Length: 40}
	for _, e := range []proto.Entry{a, b} {
		if err := g.addRange(&e, func() (*part.Dir, *part.File, error) { return nil, nil, nil }); err != nil {
			t.Fatal(err)
		}
	}
	bad := []proto.Entry{
		{Kind: proto.KindRange, Path: "f", Size: 100, Offset: 50, Length: 20}, // overlaps
		{Kind: proto.KindRange, Path: "f", Size: 99, Offset: 99, Length: 0},   // another size
	}
	for _, e := range bad {
		if err := g.addRange(&e, func() (*part.Dir, *part.File, error) { return nil, nil, nil }); err == nil {
			t.Errorf("accepted %+v", e)
		}
	}
	if done, _, _, _ := g.rangeDone(&b, proto.Trailer{}, ""); done {
		t.Error("complete after one of two ranges")
	}
	done, hash, hashed, why := g.rangeDone(&a, proto.Trailer{Hash: [16]byte{7}}, "")
	if !done || !hashed || hash[0] != 7 || why != "" {
		t.Errorf("after both ranges: %v %v %v %q", done, hash, hashed, why)
	}
	ran := false
	g.end(gs, func() { ran = true }, false)
	if ran {
		t.Error("ran the group's work after one of two streams")
	}
	g.end(gs, nil, false)
	if !ran {
		t.Error("did not run the group's work after the last stream")
	}
}
