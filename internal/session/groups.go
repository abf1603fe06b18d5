package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// A transfer over several streams (--streams): the side that connects
// opens them (SendStreams, ReceiveStreams), a sender that serves gives
// each stream of a group its share of one walk (Shares), and a receiver
// records the files that arrive in ranges over them (Groups).

// Dial opens one connection to the peer.
type Dial func(ctx context.Context) (net.Conn, error)

// SendStreams sends items as one transfer over n connections, each opened
// by dial: Partition gives each stream its share.
func SendStreams(ctx context.Context, dial Dial, items []tree.Item, n int, o Options) (Result, error) {
	parts := Partition(items, n)
	return runStreams(ctx, dial, n, o, func(conn net.Conn, o Options, i int) (Result, error) {
		return Send(ctx, conn, Items(parts[i]), o)
	})
}

// ReceiveStreams fetches one transfer over n connections, each opened by
// dial, writing under root.
func ReceiveStreams(ctx context.Context, dial Dial, root *os.Root, n int, o Options) (Result, error) {
	return runStreams(ctx, dial, n, o, func(conn net.Conn, o Options, _ int) (Result, error) {
		return Receive(ctx, conn, root, o)
	})
}

// runStreams runs one session per stream, concurrently, each on its own
// connection from dial, with o placed as stream i of n (in a fresh random
// group) when n > 1, and merges their results; o.Progress sees the sum of
// the streams' progress. The error returned is the first of the most
// telling kind (see errRank).
func runStreams(ctx context.Context, dial Dial, n int, o Options, run func(conn net.Conn, o Options, i int) (Result, error)) (Result, error) {
	var group uint32
	for n > 1 && group == 0 {
		group = rand.Uint32()
	}
	results := make([]Result, n)
	errs := make([]error, n)
	var mu sync.Mutex
	progress := make([]Progress, n)
	var wg sync.WaitGroup
	for i := range n {
		oi := o
		if n > 1 {
			oi.Stream = Stream{Group: group, Index: i, Count: n}
		}
		if o.Progress != nil {
			oi.Progress = func(p Progress) {
				mu.Lock()
				progress[i] = p
				var sum Progress
				for k := range n {
					sum.add(progress[k])
				}
				sum.Name = p.Name
				o.Progress(sum) // under mu, so that the sums arrive in order
				mu.Unlock()
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runStream(ctx, dial, oi, i, run)
		}()
	}
	wg.Wait()
	var err error
	for _, e := range errs {
		if errRank(e) > errRank(err) {
			err = e
		}
	}
	if n == 1 {
		return results[0], err
	}
	return Merge(results), err
}

// runStream opens stream i and runs its session.
func runStream(ctx context.Context, dial Dial, o Options, i int, run func(conn net.Conn, o Options, i int) (Result, error)) (Result, error) {
	conn, err := dial(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	return run(conn, o, i)
}

// errRank ranks a stream's error by how much it says: a refusal that says
// what to change, then any failure of a stream, then "some files failed".
func errRank(e error) int {
	switch {
	case e == nil:
		return 0
	case errors.Is(e, ErrFailed):
		return 1
	case errors.Is(e, ErrRefused), errors.Is(e, ErrAuth):
		return 3
	}
	return 2
}

// Shares hands each stream of a receiver that fetches over several
// streams its share of one walk. A group is forgotten once every stream
// has taken its share or, if the rest never come, the idle time of Limits
// after the last of them arrived; Limits bound the groups held at once. It
// is safe for concurrent use.
type Shares struct {
	Limits GroupLimits

	mu sync.Mutex
	m  map[groupKey]*share
}

// share is one group's walk, cut into its streams' shares, and how many
// streams have taken theirs.
type share struct {
	parts  [][]tree.Item
	served int
	idle   *time.Timer // forgets the group if no other stream comes
}

// Source returns the Source for a session on conn: a stream of a group
// gets its share of the group's walk, any other connection a walk of its
// own. A stream of a group past Limits gets one omitted item that says
// why, so that the receiver fails the transfer with the reason.
func (s *Shares) Source(conn net.Conn, walk func() ([]tree.Item, error)) Source {
	return func(peer Stream) ([]tree.Item, error) {
		if peer.Count > 1 {
			return s.share(peerHost(conn), peer, walk)
		}
		return walk()
	}
}

// share returns stream peer's share of the tree, walking it for the first
// stream of the group to arrive.
func (s *Shares) share(host string, peer Stream, walk func() ([]tree.Item, error)) ([]tree.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := groupKey{host, peer.Group}
	sh, err := lookup(&s.m, k, s.Limits, func() (*share, error) {
		items, err := walk()
		if err != nil {
			return nil, err
		}
		return &share{parts: Partition(items, peer.Count)}, nil
	})
	var refused *groupsFull
	if errors.As(err, &refused) {
		return []tree.Item{{Entry: proto.Entry{
			Kind:   proto.KindOmitted,
			Path:   fmt.Sprintf("(stream %d of %d: every file)", peer.Index, peer.Count),
			Reason: refused.Error(),
		}}}, nil
	}
	if err != nil {
		return nil, err
	}
	if peer.Index >= len(sh.parts) {
		return nil, fmt.Errorf("stream %d of a group of %d streams", peer.Index, len(sh.parts))
	}
	if sh.idle != nil {
		sh.idle.Stop()
	}
	if sh.served++; sh.served == len(sh.parts) {
		delete(s.m, k)
		return sh.parts[peer.Index], nil
	}
	served := sh.served
	sh.idle = time.AfterFunc(s.Limits.idle(), func() { s.expire(k, sh, served) })
	return sh.parts[peer.Index], nil
}

// expire forgets the group sh unless a stream arrived after the one that
// armed this expiry, its served-th.
func (s *Shares) expire(k groupKey, sh *share, served int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[k] == sh && sh.served == served {
		delete(s.m, k)
	}
}

// peerHost is the host of conn's peer: a group is never shared across
// hosts.
func peerHost(conn net.Conn) string {
	host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
	return host
}

// lookup returns what *m holds for group k, made by mk (and kept) if it
// holds nothing yet and l lets k's peer open one more group (else a
// *groupsFull). The caller holds the lock that guards *m.
func lookup[T any](m *map[groupKey]*T, k groupKey, l GroupLimits, mk func() (*T, error)) (*T, error) {
	if v := (*m)[k]; v != nil {
		return v, nil
	}
	if err := admit(l, *m, k.peer); err != nil {
		return nil, err
	}
	v, err := mk()
	if err != nil {
		return nil, err
	}
	if *m == nil {
		*m = map[groupKey]*T{}
	}
	(*m)[k] = v
	return v, nil
}

// Groups is a receiver's record of transfers spread over several streams
// (connections that share a group in their Hello): which ranges of each
// file have arrived, so that the stream that completes a file renames it
// into place, and the work left for when the last stream ends (directory
// modes and mtimes, which later files would otherwise disturb). A group is
// forgotten when its last stream ends or, if the rest never come, the idle
// time of Limits after none of its streams runs; Limits bound the groups
// held at once. It is safe for concurrent use.
type Groups struct {
	Limits GroupLimits

	mu sync.Mutex
	m  map[groupKey]*group
}

type groupKey struct {
	peer string // the peer's host: a group is never shared across hosts
	id   uint32
}

type group struct {
	key     groupKey
	mu      sync.Mutex
	streams int
	ended   int
	running int         // streams joined and not yet ended
	idle    *time.Timer // expires the group while nothing runs in it
	files   map[string]*rangedFile
	atEnd   []func()
	// broken is set when a stream ended with an error of its session (not
	// only failed files): the files it left incomplete are its failure,
	// not the sender's.
	broken bool
	// refused says why the group was not kept (GroupLimits): every range
	// announced on its stream fails with it.
	refused string
}

// rangedFile is the state of one file that arrives in ranges.
type rangedFile struct {
	size, mtime int64
	mode        uint32
	ranges      [][2]int64 // announced, by offset and length
	covered     int64      // bytes of ranges that arrived
	failed      string     // why the file cannot be completed
	hash        [16]byte   // the whole file's hash, from the range at offset 0
	hashed      bool
	// The part every stream writes its ranges into, and its directory:
	// the group's until the range that completes the file is done, then
	// that stream's (placed is set); closed and removed when the group
	// ends otherwise.
	dir    *part.Dir
	f      *part.File
	placed bool
}

// close discards the part unless a stream placed it, and closes its
// directory once nothing can use it.
func (f *rangedFile) close() {
	if f.f != nil && !f.placed {
		f.f.Discard()
	}
	f.f = nil
	if f.dir != nil {
		f.dir.Close()
		f.dir = nil
	}
}

// join returns the group a stream belongs to, making it if it is the
// first stream to arrive. A stream that Limits refuse gets a group of its
// own, not kept, that refuses every range.
func (gs *Groups) join(peer string, h proto.Hello) *group {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	k := groupKey{peer, h.Group}
	g, err := lookup(&gs.m, k, gs.Limits, func() (*group, error) {
		return &group{key: k, streams: int(h.Streams), files: map[string]*rangedFile{}}, nil
	})
	if err != nil {
		// Only the stream that ends it: its directory work is done then.
		g = &group{key: k, streams: 1, files: map[string]*rangedFile{}, refused: err.Error()}
	}
	g.mu.Lock()
	g.running++
	if g.idle != nil {
		g.idle.Stop()
		g.idle = nil
	}
	g.mu.Unlock()
	return g
}

// expire forgets g if it is still idle, removing its incomplete files.
func (gs *Groups) expire(g *group) {
	gs.mu.Lock()
	g.mu.Lock()
	idle := g.running == 0
	if idle && gs.m[g.key] == g {
		delete(gs.m, g.key)
	}
	g.mu.Unlock()
	gs.mu.Unlock()
	if idle {
		g.closeFiles()
	}
}

// Close forgets every group, removing the incomplete files of those in
// which no stream is running; a receiver that stops serving calls it once
// its sessions have ended.
func (gs *Groups) Close() {
	gs.mu.Lock()
	groups := gs.m
	gs.m = nil
	gs.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		if g.idle != nil {
			g.idle.Stop()
		}
		running := g.running
		g.mu.Unlock()
		if running == 0 {
			g.closeFiles()
		}
	}
}

// addRange records that range e will arrive. The ranges of one file must
// agree on its size, mode and mtime and must not overlap. fresh is called,
// under the group's lock, for the first range of a file: it takes the
// file's part, new and empty, which the group holds from then on.
func (g *group) addRange(e *proto.Entry, fresh func() (*part.Dir, *part.File, error)) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refused != "" {
		return errors.New(g.refused)
	}
	f := g.files[e.Path]
	if f == nil {
		dir, pf, err := fresh()
		if err != nil {
			return err
		}
		f = &rangedFile{size: e.Size, mtime: e.MTime, mode: e.Mode, dir: dir, f: pf}
		g.files[e.Path] = f
	}
	if f.size != e.Size || f.mtime != e.MTime || f.mode != e.Mode {
		return fmt.Errorf("%w: the ranges of %s disagree about the file", proto.ErrMalformed, e.Path)
	}
	for _, r := range f.ranges {
		if e.Offset < r[0]+r[1] && r[0] < e.Offset+e.Length {
			return fmt.Errorf("%w: ranges of %s overlap", proto.ErrMalformed, e.Path)
		}
	}
	f.ranges = append(f.ranges, [2]int64{e.Offset, e.Length})
	return nil
}

// part returns the part the ranges of the file at p are written into, or
// nil if there is none (the file was placed or failed).
func (g *group) part(p string) *part.File {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.files[p]; f != nil && !f.placed {
		return f.f
	}
	return nil
}

// rangeDone records that range e arrived, with its trailer, or failed
// (failed != ""). It reports whether the caller completed the file and
// must finish it, with the hash it must match (if known) and why the file
// failed (if it did).
func (g *group) rangeDone(e *proto.Entry, tr proto.Trailer, failed string) (complete bool, hash [16]byte, hashed bool, why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.files[e.Path]
	if failed != "" && f.failed == "" {
		f.failed = failed
	}
	if e.Offset == 0 && tr.Hash != ([16]byte{}) {
		f.hash, f.hashed = tr.Hash, true
	}
	f.covered += e.Length
	complete = f.covered == f.size
	f.placed = f.placed || complete // the caller places or discards it
	return complete, f.hash, f.hashed, f.failed
}

// closeFiles closes what the group's files hold.
func (g *group) closeFiles() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, f := range g.files {
		f.close()
	}
}

// failFile records that the file at p, arriving in ranges, failed (why),
// if the group holds it and it had not failed yet.
func (g *group) failFile(p, why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.files[p]; f != nil && f.failed == "" {
		f.failed = why
	}
}

// end records that one stream ended (broken: with an error of its
// session); work, if not nil, is kept for when the last stream ends, and
// run then (by that stream's goroutine). The last stream gets the files
// whose ranges never all arrived though every stream ended whole and none
// failed them (a sender that announced ranges not covering a file): they
// are removed with the group, and that stream reports them.
func (g *group) end(gs *Groups, work func(), broken bool) (lost []string) {
	g.mu.Lock()
	g.broken = g.broken || broken
	if work != nil {
		g.atEnd = append(g.atEnd, work)
	}
	g.ended++
	g.running--
	last := g.ended == g.streams
	todo := g.atEnd
	if !last && g.running == 0 {
		g.idle = time.AfterFunc(gs.Limits.idle(), func() { gs.expire(g) })
	}
	g.mu.Unlock()
	if !last {
		return nil
	}
	gs.mu.Lock()
	if gs.m[g.key] == g {
		delete(gs.m, g.key)
	}
	gs.mu.Unlock()
	g.mu.Lock()
	for p, f := range g.files {
		if !f.placed && f.failed == "" && !g.broken {
			lost = append(lost, p)
		}
	}
	g.mu.Unlock()
	slices.Sort(lost)
	g.closeFiles()
	for _, f := range todo {
		f()
	}
	return lost
}
