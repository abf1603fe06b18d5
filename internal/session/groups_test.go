package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// rangesIn returns a fresh function for addRange that takes NAME.zcopy-ranges
// in dir.
func rangesIn(t *testing.T, dir, name string) func() (*part.Dir, *part.File, error) {
	return func() (*part.Dir, *part.File, error) {
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, nil, err
		}
		defer root.Close()
		d, err := part.OpenDir(root, ".")
		if err != nil {
			return nil, nil, err
		}
		f, _, _, err := part.Open(d, name+part.RangesSuffix, part.Version{Size: 100, MTime: 1, Source: 1}, false)
		if err != nil {
			d.Close()
		}
		return d, f, err
	}
}

// TestGroupExpiresOnlyWhenIdle guards what the review of issue 12's fix
// found: a group was expired an hour after it was made, whatever its
// streams were doing (tearing down a long transfer), and a group whose
// other streams never came held its file's name for that hour. A group is
// expired only once no stream runs in it, groupIdle later; then its
// incomplete file is removed and the name is free again.
func TestGroupExpiresOnlyWhenIdle(t *testing.T) {
	defer func(d time.Duration) { groupIdle = d }(groupIdle)
	groupIdle = 20 * time.Millisecond
	dir := t.TempDir()
	gs := &Groups{}
	g := gs.join("h", proto.Hello{Group: 5, Stream: 0, Streams: 2})
	e := proto.Entry{Kind: proto.KindRange, Path: "f", Size: 100, MTime: 1, Source: 1, Offset: 0, Length: 50}
	if err := g.addRange(&e, rangesIn(t, dir, "f")); err != nil {
		t.Fatal(err)
	}
	ranges := filepath.Join(dir, "f"+part.RangesSuffix)
	// While the stream runs, long past groupIdle, nothing expires.
	time.Sleep(5 * groupIdle)
	if g.part("f") == nil {
		t.Fatal("the group let go of its file while a stream was running")
	}
	g.end(gs, nil) // the only stream that came ends; the other never comes
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Lstat(ranges); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there 10 s after its group went idle", ranges)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The name is free: a new group can take it.
	g2 := gs.join("h", proto.Hello{Group: 6, Stream: 0, Streams: 2})
	if err := g2.addRange(&e, rangesIn(t, dir, "f")); err != nil {
		t.Fatalf("after the idle group expired: %v", err)
	}
	gs.Close() // a running stream's file is left to it
	if g2.part("f") == nil {
		t.Error("Close took the file of a group with a running stream")
	}
	g2.end(gs, nil)
	gs.Close()
}

// TestSharesOneWalk: the streams of a fetch share one walk, each taking
// its part of it; once every stream has its part the group is forgotten,
// and a stream beyond the group's count is refused.
func TestSharesOneWalk(t *testing.T) {
	var items []tree.Item
	for i := range 5 {
		items = append(items, tree.Item{Entry: proto.Entry{Kind: proto.KindFile, Path: fmt.Sprint("f", i), Size: int64(100 * (i + 1))}})
	}
	walks := 0
	walk := func() ([]tree.Item, error) {
		walks++
		return items, nil
	}
	var s Shares
	want := Partition(items, 2)
	for i := range 2 {
		got, err := s.share("h", Stream{Group: 7, Index: i, Count: 2}, walk)
		if err != nil || !reflect.DeepEqual(got, want[i]) {
			t.Errorf("stream %d: %v, %v; want %v", i, got, err, want[i])
		}
	}
	if walks != 1 {
		t.Errorf("%d walks for one group, want 1", walks)
	}
	if _, err := s.share("h", Stream{Group: 7, Index: 0, Count: 2}, walk); err != nil || walks != 2 {
		t.Errorf("a group that took all its parts, again: %v, %d walks; want a new walk", err, walks)
	}
	if _, err := s.share("h", Stream{Group: 8, Index: 2, Count: 2}, walk); err == nil {
		t.Error("stream 2 of a group of 2 got a share")
	}
}

// TestErrRank: of the streams' errors, a refusal (it says what to change)
// is reported first, then any stream's failure, then "some files failed".
func TestErrRank(t *testing.T) {
	failed := fmt.Errorf("%w: 1 of 2 entries", ErrFailed)
	broke := errors.New("connection reset")
	refused := fmt.Errorf("%w: wrong version", ErrRefused)
	auth := fmt.Errorf("%w: wrong token", ErrAuth)
	for _, tc := range []struct{ lesser, greater error }{
		{nil, failed}, {failed, broke}, {broke, refused}, {broke, auth},
	} {
		if errRank(tc.lesser) >= errRank(tc.greater) {
			t.Errorf("errRank(%v) >= errRank(%v)", tc.lesser, tc.greater)
		}
	}
}
