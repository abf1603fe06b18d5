package session

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
)

// A placer writes whole small files into place on a few goroutines of its
// own, so that the system calls of several files (most of what a small
// file costs) overlap with each other and with the session reading the
// next ones. Its methods other than placeWhole are for the session's
// goroutine.
type placer struct {
	fsync     bool
	overwrite bool // a file that appeared after planning may be replaced
	jobs      chan placeJob
	free      sync.Pool      // body buffers, *[]byte of wholeMax
	pending   sync.WaitGroup // jobs handed out and not yet done
	workers   sync.WaitGroup

	mu   sync.Mutex
	done []placeOutcome // finished since the session last asked

	noTmpfile atomic.Bool // the file system cannot do placeWhole's quick way

	umask      uint32 // the process's, when the session began
	umaskKnown bool

	dirMu sync.Mutex
	dirs  map[*os.Root]*placeDir // the directories of sub-roots, for placeWhole
}

// testHookNoTmpfile makes placeWhole take the named part on Linux, as it
// does where O_TMPFILE or linkat of a descriptor is not available (the
// named part is the only way elsewhere).
var testHookNoTmpfile bool

type placeJob struct {
	i    int
	d    *os.Root
	base string
	e    *proto.Entry
	body *[]byte
}

// placeDir is a directory placeWhole writes in.
type placeDir struct {
	pd  *part.Dir
	acl bool // it has a default ACL, which sets new files' modes instead of the umask (Linux)
}

type placeOutcome struct {
	i   int
	err error
}

// placeWorkers is how many goroutines place files: more than one lets the
// kernel work on several files at once; beyond a few, they contend for
// the directory's lock.
func placeWorkers() int { return min(runtime.GOMAXPROCS(0), 4) }

func newPlacer(fsync, overwrite bool) *placer {
	n := placeWorkers()
	p := &placer{fsync: fsync, overwrite: overwrite, jobs: make(chan placeJob, 8*n)}
	p.umask, p.umaskKnown = part.Umask()
	p.free.New = func() any { b := make([]byte, wholeMax); return &b }
	p.workers.Add(n)
	for range n {
		go p.work()
	}
	return p
}

// place copies body and queues entry i to be placed in d under base. It
// blocks while the queue is full.
func (p *placer) place(i int, d *os.Root, base string, e *proto.Entry, body []byte) {
	b := p.free.Get().(*[]byte)
	*b = append((*b)[:0], body...)
	p.pending.Add(1)
	p.jobs <- placeJob{i: i, d: d, base: base, e: e, body: b}
}

func (p *placer) work() {
	defer p.workers.Done()
	for j := range p.jobs {
		err := p.placeWhole(j.d, j.base, j.e, *j.body)
		p.free.Put(j.body)
		p.mu.Lock()
		p.done = append(p.done, placeOutcome{j.i, err})
		p.mu.Unlock()
		p.pending.Done()
	}
}

// finished returns the outcomes of the files placed since the last call.
func (p *placer) finished() []placeOutcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.done
	p.done = nil
	return o
}

// wait returns when every queued file is placed, so the directories they
// go to may be closed.
func (p *placer) wait() {
	p.pending.Wait()
	p.dirMu.Lock()
	defer p.dirMu.Unlock()
	for d, pd := range p.dirs {
		pd.pd.Close()
		delete(p.dirs, d)
	}
}

// dirFile returns the directory d is rooted at, opened once (through d, so
// it is the directory d confines to) and closed by wait.
func (p *placer) dirFile(d *os.Root) (*placeDir, error) {
	p.dirMu.Lock()
	defer p.dirMu.Unlock()
	if pd, ok := p.dirs[d]; ok {
		return pd, nil
	}
	dir, err := part.OpenDir(d, ".")
	if err != nil {
		return nil, err
	}
	pd := &placeDir{pd: dir, acl: hasDefaultACL(dir)}
	if p.dirs == nil {
		p.dirs = map[*os.Root]*placeDir{}
	}
	p.dirs[d] = pd
	return pd, nil
}

// stop waits for the queued files and ends the workers.
func (p *placer) stop() {
	p.wait()
	close(p.jobs)
	p.workers.Wait()
}
