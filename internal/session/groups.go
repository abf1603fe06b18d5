package session

import (
	"fmt"
	"sync"
	"time"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
)

// Groups is a receiver's record of transfers spread over several streams
// (connections that share a group in their Hello): which ranges of each
// file have arrived, so that the stream that completes a file renames it
// into place, and the work left for when the last stream ends (directory
// modes and mtimes, which later files would otherwise disturb). It is safe
// for concurrent use.
type Groups struct {
	mu sync.Mutex
	m  map[groupKey]*group
}

type groupKey struct {
	peer string // the peer's host: a group is never shared across hosts
	id   uint32
}

// groupIdle is how long a group is kept once none of its streams is
// running and not all have come: the rest may still be connecting; after
// that, its incomplete files are removed and their names freed.
var groupIdle = 30 * time.Second

type group struct {
	key     groupKey
	mu      sync.Mutex
	streams int
	ended   int
	running int         // streams joined and not yet ended
	idle    *time.Timer // expires the group while nothing runs in it
	files   map[string]*rangedFile
	atEnd   []func()
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
// first stream to arrive.
func (gs *Groups) join(peer string, h proto.Hello) *group {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.m == nil {
		gs.m = map[groupKey]*group{}
	}
	k := groupKey{peer, h.Group}
	g := gs.m[k]
	if g == nil {
		g = &group{key: k, streams: int(h.Streams), files: map[string]*rangedFile{}}
		gs.m[k] = g
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

// end records that one stream ended; work, if not nil, is kept for when
// the last stream ends, and run then (by that stream's goroutine).
func (g *group) end(gs *Groups, work func()) {
	g.mu.Lock()
	if work != nil {
		g.atEnd = append(g.atEnd, work)
	}
	g.ended++
	g.running--
	last := g.ended == g.streams
	todo := g.atEnd
	if !last && g.running == 0 {
		g.idle = time.AfterFunc(groupIdle, func() { gs.expire(g) })
	}
	g.mu.Unlock()
	if !last {
		return
	}
	gs.mu.Lock()
	delete(gs.m, g.key)
	gs.mu.Unlock()
	g.closeFiles()
	for _, f := range todo {
		f()
	}
}
