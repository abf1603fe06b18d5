package session

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
	g.end(gs, nil, false) // the only stream that came ends; the other never comes
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
	g2.end(gs, nil, false)
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

// noPart is a fresh function for addRange that holds nothing: the tests
// of limits need groups, not files.
func noPart() (*part.Dir, *part.File, error) { return nil, nil, nil }

// rangeIn announces a range of a file of group g, as a stream of a peer
// does; the error is the group's refusal, if it refused the stream.
func rangeIn(g *group) error {
	e := proto.Entry{Kind: proto.KindRange, Path: "f", Size: 100, MTime: 1, Offset: 0, Length: 50}
	return g.addRange(&e, noPart)
}

// TestGroupsRefusedPastLimits guards issue 14: any peer could open stream
// groups without limit, each holding the parts of the files it announced
// in ranges (two descriptors each) for 30 s after going idle. Past 16
// groups from one host, or 256 in all, a new group is refused (each range
// fails, saying why), while the streams of groups held go on; a group
// that ends makes room; and a refused stream's end leaves alone a group
// of the same id made since.
func TestGroupsRefusedPastLimits(t *testing.T) {
	gs := &Groups{}
	held := map[uint32]*group{}
	for id := uint32(1); id <= 16; id++ {
		g := gs.join("h", proto.Hello{Group: id, Stream: 0, Streams: 2})
		if err := rangeIn(g); err != nil {
			t.Fatalf("group %d of 16 from one host: %v", id, err)
		}
		held[id] = g
	}
	over := gs.join("h", proto.Hello{Group: 99, Stream: 0, Streams: 2})
	err := rangeIn(over)
	if err == nil || !strings.Contains(err.Error(), "16 stream groups from h") {
		t.Fatalf("group 17 from one host: %v; want a refusal that says 16 stream groups from h", err)
	}
	t.Logf("refused: %v", err)
	// The second stream of a group held is not refused.
	if g := gs.join("h", proto.Hello{Group: 1, Stream: 1, Streams: 2}); g != held[1] || rangeIn(g) == nil {
		// (the range overlaps the first: the group is the one held)
		t.Fatal("the second stream of a group held was not joined to it")
	}
	// Another host may open its own.
	if err := rangeIn(gs.join("h2", proto.Hello{Group: 99, Stream: 0, Streams: 2})); err != nil {
		t.Fatalf("another host's first group: %v", err)
	}
	// Group 1 ends (both its streams): room for group 99 of h.
	held[1].end(gs, nil, false)
	held[1].end(gs, nil, false)
	again := gs.join("h", proto.Hello{Group: 99, Stream: 1, Streams: 2})
	if err := rangeIn(again); err != nil {
		t.Fatalf("once a group ended: %v", err)
	}
	ran := false
	over.end(gs, func() { ran = true }, false)
	if !ran {
		t.Error("the refused stream's directory work did not run when it ended")
	}
	gs.mu.Lock()
	kept := gs.m[groupKey{"h", 99}]
	gs.mu.Unlock()
	if kept != again {
		t.Error("the refused stream's end forgot the group of the same id made since")
	}

	// In all: 256 groups (h and h2 hold 17 so far; the rest from hosts
	// x1 to x15, at most 16 each).
	for n := 17; n < 256; n++ {
		host := fmt.Sprint("x", n/16)
		if err := rangeIn(gs.join(host, proto.Hello{Group: uint32(n), Stream: 0, Streams: 2})); err != nil {
			t.Fatalf("group %d in all, from %s: %v", n+1, host, err)
		}
	}
	gs.mu.Lock()
	n := len(gs.m)
	gs.mu.Unlock()
	if n != 256 {
		t.Fatalf("%d groups held; want 256", n)
	}
	err = rangeIn(gs.join("h18", proto.Hello{Group: 1, Stream: 0, Streams: 2}))
	if err == nil || !strings.Contains(err.Error(), "256 stream groups are open") {
		t.Fatalf("group 257: %v; want a refusal that says 256 stream groups are open", err)
	}
	gs.Close()
}

// share0 is stream 0 of a group of two, as host asks it of s.
func share0(s *Shares, host string, id uint32, walk func() ([]tree.Item, error)) ([]tree.Item, error) {
	return s.share(host, Stream{Group: id, Index: 0, Count: 2}, walk)
}

// TestSharesRefusedPastLimits: a sender serving fetches held every group
// whose streams had not all come, with its walk, for ever (issue 14).
// Past 16 groups from one host a stream is offered one omitted item that
// says why, which its receiver fails; the other streams of groups held go
// on, and a group whose streams all came makes room.
func TestSharesRefusedPastLimits(t *testing.T) {
	defer func(d time.Duration) { groupIdle = d }(groupIdle)
	groupIdle = time.Hour // none expires during the test
	items := []tree.Item{{Entry: proto.Entry{Kind: proto.KindFile, Path: "f", Size: 1}}}
	walk := func() ([]tree.Item, error) { return items, nil }
	var s Shares
	for id := uint32(1); id <= 16; id++ {
		if got, err := share0(&s, "h", id, walk); err != nil || len(got) != 1 || got[0].Kind != proto.KindFile {
			t.Fatalf("group %d of 16 from one host: %v, %v", id, got, err)
		}
	}
	got, err := share0(&s, "h", 99, walk)
	if err != nil || len(got) != 1 || got[0].Kind != proto.KindOmitted || !strings.Contains(got[0].Reason, "16 stream groups from h") {
		t.Fatalf("group 17 from one host: %+v, %v; want one omitted item that says 16 stream groups from h", got, err)
	}
	t.Logf("offered %q: %s", got[0].Path, got[0].Reason)
	if got, err := share0(&s, "h2", 99, walk); err != nil || got[0].Kind != proto.KindFile {
		t.Fatalf("another host's first group: %v, %v", got, err)
	}
	if _, err := s.share("h", Stream{Group: 1, Index: 1, Count: 2}, walk); err != nil {
		t.Fatalf("the second stream of a group held: %v", err)
	}
	if got, err := share0(&s, "h", 99, walk); err != nil || got[0].Kind != proto.KindFile {
		t.Fatalf("once a group took all its shares: %v, %v", got, err)
	}
}

// TestSharesForgottenWhenIdle: a group whose other streams never come is
// forgotten, with its walk, once idle (issue 14: it was held for ever); a
// stream that comes after that gets a walk of its own.
func TestSharesForgottenWhenIdle(t *testing.T) {
	defer func(d time.Duration) { groupIdle = d }(groupIdle)
	groupIdle = 20 * time.Millisecond
	walks := 0
	walk := func() ([]tree.Item, error) {
		walks++
		return []tree.Item{{Entry: proto.Entry{Kind: proto.KindFile, Path: "f", Size: 1}}}, nil
	}
	var s Shares
	if _, err := share0(&s, "h", 7, walk); err != nil {
		t.Fatal(err)
	}
	held := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.m[groupKey{"h", 7}] != nil
	}
	for deadline := time.Now().Add(10 * time.Second); held(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the group is still held 10 s after its only stream came")
		}
	}
	if _, err := s.share("h", Stream{Group: 7, Index: 1, Count: 2}, walk); err != nil || walks != 2 {
		t.Errorf("a stream after the group was forgotten: %v, %d walks; want a walk of its own", err, walks)
	}
}

// TestSharesExpiryRearmed: each stream that comes re-arms the group's
// expiry, so an expiry armed by an earlier stream (its timer fired while
// the next stream came) leaves the group alone.
func TestSharesExpiryRearmed(t *testing.T) {
	defer func(d time.Duration) { groupIdle = d }(groupIdle)
	groupIdle = time.Hour
	walk := func() ([]tree.Item, error) { return nil, nil }
	var s Shares
	k := groupKey{"h", 3}
	for i := range 2 {
		if _, err := s.share("h", Stream{Group: 3, Index: i, Count: 3}, walk); err != nil {
			t.Fatal(err)
		}
	}
	sh := s.m[k]
	defer sh.idle.Stop()
	s.expire(k, sh, 1) // armed by the first stream
	if s.m[k] != sh {
		t.Fatal("an expiry armed before the second stream came forgot the group")
	}
	s.expire(k, sh, 2)
	if s.m[k] != nil {
		t.Fatal("the expiry armed by the last stream to come left the group held")
	}
}

// TestGroupRangesNotCovering (an attack review): a sender over two
// streams that announces a range of a file and never the rest (its other
// stream's manifest is empty) had the receiver exit 0, the file named,
// planned and never placed. The stream that ends the group now reports it;
// a file a stream already failed, or left incomplete when its session
// broke, is not reported again, nor blamed on what the sender announced.
func TestGroupRangesNotCovering(t *testing.T) {
	const size, half = 2 << 20, 1 << 20
	big := func(off int64) proto.Entry {
		return proto.Entry{Kind: proto.KindRange, Path: "big", Mode: 0o644, Size: size, MTime: 1e18, Offset: off, Length: half}
	}
	for _, tc := range []struct {
		name        string
		entries     []proto.Entry
		bodies      int  // how many of the planned bodies stream 0 sends
		cut         bool // stream 0 closes before its end
		want0       error
		lastReports bool // stream 1, which ends the group, fails for the file
	}{
		{"half-announced", []proto.Entry{big(0)}, 1, false, nil, true},
		{"half-never-sent", []proto.Entry{big(0), big(half)}, 1, false, ErrFailed, false},
		{"stream-cut", []proto.Entry{big(0), big(half)}, 1, true, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tempRoot(t)
			dst := root.Name()
			o := Options{Plaintext: true, Groups: &Groups{}, Warn: func(string) {}}
			run := func(i uint8, entries []proto.Entry, bodies int, cut bool) error {
				c, done := receiveOn(t, root, o)
				br := bufio.NewReader(c)
				c.Write((&proto.Hello{Version: proto.Version, Role: proto.RoleSender, Group: 77, Stream: i, Streams: 2}).Append(nil))
				proto.ReadHello(br)
				c.Write((&proto.Verdict{OK: true}).Append(nil))
				proto.ReadVerdict(br)
				var m []byte
				for _, e := range entries {
					m = e.Append(m)
				}
				c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(m))
				var d []byte
				for j, e := range entries {
					p, err := proto.ReadPlan(br)
					if err != nil {
						t.Fatal(err)
					}
					if p.Action == proto.ActionSend && bodies > 0 {
						bodies--
						d = (&proto.DataHeader{Index: uint32(j), Offset: e.Offset, Length: e.Length}).Append(d)
						d = append(d, make([]byte, e.Length)...)
						d = (&proto.Trailer{}).Append(d)
					}
				}
				if cut {
					c.Write(d[:len(d)-10]) // the trailer never comes
					c.Close()
					return <-done
				}
				c.Write(append(d, proto.FinMagic[:]...))
				proto.ReadSummary(br)
				return <-done
			}
			err0 := run(0, tc.entries, tc.bodies, tc.cut)
			err1 := run(1, nil, 0, false)
			if tc.cut {
				if err0 == nil {
					t.Error("stream 0, cut: no error")
				}
			} else if !errors.Is(err0, tc.want0) || tc.want0 == nil && err0 != nil {
				t.Errorf("stream 0: %v, want %v", err0, tc.want0)
			}
			if got := errors.Is(err1, ErrFailed); got != tc.lastReports {
				t.Errorf("stream 1, which ends the group: %v; want a failure for the file: %v", err1, tc.lastReports)
			}
			for _, n := range []string{"big", "big" + RangesSuffix} {
				if _, err := os.Lstat(filepath.Join(dst, n)); err == nil {
					t.Errorf("%s is here", n)
				}
			}
		})
	}
}
