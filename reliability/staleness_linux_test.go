package reliability

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Staleness (issue 17, acceptance point 2): zcopy http must never answer
// from a file as it was before a change that finished before the request
// was sent, nor with a body that is no version of the file at all,
// whatever it keeps open or remembers between requests.

const (
	// The two sizes every changing file starts at: a small file (the
	// small-file path) and one that sendfile moves in several calls.
	staleSmall = 4 << 10
	staleLarge = 100 << 10
	// staleQuota is how many complete responses to changing files the
	// loaders check across the test, shared evenly among the cases: each
	// case changes its files until the loaders have checked its share of
	// responses to them (at least a quarter of it to each file), and at
	// least staleMinSteps times.
	staleQuota    = 10000
	staleMinSteps = 24
	// staleLoaders is how many goroutines, each on its own keep-alive
	// connection, loop GETs all through the test.
	staleLoaders = 8
	// staleHangGuard bounds one case (a hang guard, not a verdict on
	// speed: a case takes about a second here).
	staleHangGuard = 2 * time.Minute
)

// A staleVersion is one state of a served path: what a GET of it answers
// while that state holds.
type staleVersion struct {
	n      int       // the version number its bytes are made from (0: absent)
	status int       // 200, or 404 while the path names nothing
	body   []byte    // with 200
	mtime  time.Time // with 200: Last-Modified once the whole change is done
}

func (v staleVersion) String() string {
	if v.status != 200 {
		return "absent (404)"
	}
	return fmt.Sprintf("version v%d (%d bytes)", v.n, len(v.body))
}

// A staleTarget is a URL path whose file the test changes, with every
// version it has had. The changer stages a version before the system call
// that makes it and marks it in force once the call has returned, so a
// response may carry any version from the one in force when its request
// was sent to the last staged when it ended; the loaders hold every
// response to that.
type staleTarget struct {
	url string
	// mayShrink: the file is truncated under load, so a response may end
	// before its Content-Length (the server closes the connection after
	// the bytes that exist). Elsewhere a short body is an error.
	mayShrink bool

	mu       sync.Mutex
	versions []staleVersion
	inForce  int
	errs     []string // the first few failures the loaders saw
	nerrs    int

	// What the loaders saw: complete responses (200 and a whole body)
	// checked, 404s, bodies cut short by a shrink; torn and stale bodies
	// are also failures (errs).
	complete, notFound, cutShort, torn, stale atomic.Int64
	nbytes                                    atomic.Int64 // in complete responses

	// The checker's: the ETag of the last 200 it saw, and the version
	// then in force.
	etag        string
	etagVersion int
}

func newStaleTarget(url string, mayShrink bool, first staleVersion) *staleTarget {
	return &staleTarget{url: url, mayShrink: mayShrink, versions: []staleVersion{first}}
}

// stage adds v, the version the next system call makes.
func (tg *staleTarget) stage(v staleVersion) {
	tg.mu.Lock()
	tg.versions = append(tg.versions, v)
	tg.mu.Unlock()
}

// settle says that the system call that made the last staged version has
// returned: every request sent from now on must see it (or a later one).
func (tg *staleTarget) settle() {
	tg.mu.Lock()
	tg.inForce = len(tg.versions) - 1
	tg.mu.Unlock()
}

// now returns the index of the version in force.
func (tg *staleTarget) now() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.inForce
}

// since returns the versions from index i to the last staged.
func (tg *staleTarget) since(i int) []staleVersion {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.versions[i:len(tg.versions):len(tg.versions)]
}

func (tg *staleTarget) latest() staleVersion {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.versions[len(tg.versions)-1]
}

func (tg *staleTarget) fail(format string, args ...any) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.nerrs++
	if len(tg.errs) < 5 {
		tg.errs = append(tg.errs, fmt.Sprintf(format, args...))
	}
}

func (tg *staleTarget) failures() (int, []string) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.nerrs, tg.errs
}

// identify names the version body is, or says how it is none: the
// version it is closest to and where they part.
func (tg *staleTarget) identify(body []byte) (string, bool) {
	all := tg.since(0)
	best, at := -1, -1
	for i, v := range all {
		if v.status != 200 {
			continue
		}
		if bytes.Equal(v.body, body) {
			return fmt.Sprintf("%v (no. %d of the %d versions the file has had)", v, i, len(all)), true
		}
		if d := firstDiff(v.body, body); d > at {
			best, at = i, d
		}
	}
	if best < 0 {
		return fmt.Sprintf("%d bytes, no version of the file", len(body)), false
	}
	v := all[best]
	return fmt.Sprintf("%d bytes, no version of the file; nearest %v, first difference at byte %d: %q, there %q",
		len(body), v, at, excerpt(body, at), excerpt(v.body, at)), false
}

func excerpt(b []byte, at int) []byte {
	return b[min(at, len(b)):min(at+16, len(b))]
}

// judge checks a loader's response to a GET of tg sent while version
// index sent was in force: resp is nil if there was none (err says why);
// err is set with a body cut short.
func (tg *staleTarget) judge(sent int, resp *http.Response, body []byte, err error) {
	vs := tg.since(sent)
	// A response cut short by a shrink: the connection closed before the
	// end of the body, or before the whole header (the server holds the
	// header back to send it with the first bytes of the body, and there
	// were none).
	closed := errors.Is(err, io.ErrUnexpectedEOF) && tg.mayShrink && shrank(vs)
	if resp == nil {
		if closed {
			tg.cutShort.Add(1)
			return
		}
		tg.fail("GET %s: %v", tg.url, err)
		return
	}
	whole := err == nil && resp.ContentLength == int64(len(body))
	switch {
	case resp.StatusCode == 200 && whole:
		for _, v := range vs {
			if v.status == 200 && bytes.Equal(v.body, body) {
				tg.complete.Add(1)
				tg.nbytes.Add(int64(len(body)))
				return
			}
		}
		what, isVersion := tg.identify(body)
		if isVersion {
			tg.stale.Add(1)
			tg.fail("stale: GET %s sent while %v was in force answered 200 with %s", tg.url, vs[0], what)
			return
		}
		tg.torn.Add(1)
		figs.mu.Lock()
		figs.FilesCorrupted++
		figs.mu.Unlock()
		tg.fail("torn: GET %s answered a complete 200 (Content-Length %d) with %s", tg.url, resp.ContentLength, what)
	case resp.StatusCode == 200 && closed:
		// Whatever bytes came before the end (the start of the version
		// sent, or of the one written into the emptied file): the
		// client sees an error, not a body.
		tg.cutShort.Add(1)
	case resp.StatusCode == 200 && err != nil:
		tg.fail("GET %s: a body cut short at %d of %d bytes by %v (allowed only as the connection's end, and only where the file shrank meanwhile)", tg.url, len(body), resp.ContentLength, err)
	case resp.StatusCode == 404 && err == nil:
		for _, v := range vs {
			if v.status == 404 {
				tg.notFound.Add(1)
				return
			}
		}
		tg.fail("GET %s answered 404, but the file existed from before the request was sent (%v) to the end of the response", tg.url, vs[0])
	default:
		tg.fail("GET %s answered %d with %d bytes (Content-Length %d), then %v", tg.url, resp.StatusCode, len(body), resp.ContentLength, err)
	}
}

// shrank reports whether the file got smaller from one version to the
// next in vs.
func shrank(vs []staleVersion) bool {
	for i := 1; i < len(vs); i++ {
		if vs[i].status == 200 && vs[i-1].status == 200 && len(vs[i].body) < len(vs[i-1].body) {
			return true
		}
	}
	return false
}

// staleClient sends GETs on one keep-alive connection, and makes a new
// one when the server has closed it.
type staleClient struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
	buf  []byte // bodies are read into it: big allocations are dear under -race
}

// get sends a GET of url with the header lines extra and reads the
// response whole. A body that ends before its Content-Length is returned
// with the error that ended it. The body is good until the next get.
func (sc *staleClient) get(url, extra string) (*http.Response, []byte, error) {
	if sc.c == nil {
		c, err := net.DialTimeout("tcp", sc.addr, replyWait)
		if err != nil {
			return nil, nil, err
		}
		sc.c, sc.br = c, bufio.NewReader(c)
	}
	sc.c.SetDeadline(time.Now().Add(replyWait))
	if _, err := io.WriteString(sc.c, "GET "+url+" HTTP/1.1\r\nHost: zcopy\r\n"+extra+"\r\n"); err != nil {
		sc.close()
		return nil, nil, err
	}
	resp, err := http.ReadResponse(sc.br, nil)
	if err != nil {
		sc.close()
		return nil, nil, err
	}
	var body []byte
	if resp.ContentLength >= 0 && resp.ContentLength <= 1<<20 {
		if int64(cap(sc.buf)) < resp.ContentLength {
			sc.buf = make([]byte, resp.ContentLength)
		}
		body = sc.buf[:resp.ContentLength]
		var n int
		n, err = io.ReadFull(resp.Body, body)
		body = body[:n]
	} else {
		body, err = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	if err != nil || resp.Close {
		sc.close()
	}
	return resp, body, err
}

func (sc *staleClient) close() {
	if sc.c != nil {
		sc.c.Close()
		sc.c = nil
	}
}

// staleLoad is the concurrent load: goroutines looping GETs, each on its
// own keep-alive connection, over the targets they are aimed at (the
// files a case changes, and files that never change), each response
// judged.
type staleLoad struct {
	addr   string
	n      int
	aimed  atomic.Pointer[staleAim]
	halted atomic.Bool
	wg     sync.WaitGroup
}

// A staleAim is what the loaders go for; each loader acknowledges it
// (ack) before its first request to it.
type staleAim struct {
	targets []*staleTarget
	ack     chan struct{}
}

func startStaleLoad(addr string, n int, targets []*staleTarget) *staleLoad {
	l := &staleLoad{addr: addr, n: n}
	l.aimed.Store(&staleAim{targets, make(chan struct{}, n)})
	for i := range n {
		l.wg.Add(1)
		go l.run(i)
	}
	return l
}

func (l *staleLoad) run(id int) {
	defer l.wg.Done()
	sc := &staleClient{addr: l.addr}
	defer sc.close()
	var seen *staleAim
	for i := id; !l.halted.Load(); i++ {
		a := l.aimed.Load()
		if a != seen {
			a.ack <- struct{}{}
			seen = a
		}
		tg := a.targets[i%len(a.targets)]
		sent := tg.now()
		resp, body, err := sc.get(tg.url, "")
		tg.judge(sent, resp, body, err)
		if resp == nil && sc.c == nil {
			// No connection: do not spin while the server is gone.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// aim sends the loaders to targets from their next request on. It
// returns once every loader has judged the response it was waiting for
// and taken the new aim (or false after a hang guard: a loader's request
// gives up after replyWait).
func (l *staleLoad) aim(targets []*staleTarget) bool {
	a := &staleAim{targets, make(chan struct{}, l.n)}
	l.aimed.Store(a)
	guard := time.NewTimer(2 * replyWait)
	defer guard.Stop()
	for range l.n {
		select {
		case <-a.ack:
		case <-guard.C:
			return false
		}
	}
	return true
}

func (l *staleLoad) halt() {
	l.halted.Store(true)
	l.wg.Wait()
}

// staleContent fills b, which starts at offset off of a file, with the
// bytes version v puts there: 16-byte records "v%06d:%07x\n" naming the
// version and the record's offset, so that any piece of a body shows (in
// a dump) which version it came from and where.
func staleContent(b []byte, v, off int) {
	const hex = "0123456789abcdef"
	var rec [16]byte
	for i := 0; i < len(b); {
		at := off + i
		start := at &^ 15
		rec[0] = 'v'
		for j, x := 6, v; j >= 1; j-- {
			rec[j] = byte('0' + x%10)
			x /= 10
		}
		rec[7] = ':'
		for j, x := 14, start; j >= 8; j-- {
			rec[j] = hex[x&15]
			x >>= 4
		}
		rec[15] = '\n'
		i += copy(b[i:], rec[at-start:])
	}
}

// staleEnv is one run of the test: the served directory, the version
// numbers, and the checker's connection.
type staleEnv struct {
	base    time.Time // version v's modification time is base + v seconds
	last    int       // the last version number given
	checker staleClient
	checks  int
	changes int
}

// version returns a new version number and its modification time, a
// second after the previous version's: each change moves the time
// forward, so Last-Modified changes even when the change falls within
// one timestamp granule of the previous one.
func (e *staleEnv) version() (int, time.Time) {
	e.last++
	return e.last, e.base.Add(time.Duration(e.last) * time.Second)
}

// A staleFile is a changing file and the target that serves it.
type staleFile struct {
	*staleTarget
	path string // on disk (in the dirswap case, under the swapped path)
	size int    // the size it starts at: staleSmall or staleLarge
	cur  []byte // what the file holds now (nil: absent)
}

func stalePut(t *testing.T, path string, body []byte, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func staleNew(v, size int, mtime time.Time) staleVersion {
	body := make([]byte, size)
	staleContent(body, v, 0)
	return staleVersion{n: v, status: 200, body: body, mtime: mtime}
}

// replace writes a new version under a temporary name beside the file and
// renames it over the file.
func (e *staleEnv) replace(t *testing.T, f *staleFile) {
	t.Helper()
	v, mt := e.version()
	nv := staleNew(v, f.size, mt)
	tmp := f.path + ".new"
	stalePut(t, tmp, nv.body, mt)
	f.stage(nv)
	if err := os.Rename(tmp, f.path); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.cur = nv.body
}

// touch sets the file's modification time to the version's: the last
// system call of an in-place change (and no change to its bytes).
func touch(t *testing.T, f *staleFile) {
	t.Helper()
	mt := f.latest().mtime
	if err := os.Chtimes(f.path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// The in-place changes are each one system call that the kernel applies
// at once as readers see it: an append that stays within one page (the
// size moves once, after the bytes are in), a truncate to size 0, a write
// of at most a page to an empty file, a write of one byte. Anything more
// can be seen half done by any reader (nginx, cat), so it would tear
// bodies in any server; here a torn body can only be the server's doing.
//
// A truncate to a size other than 0 is such a change: the kernel zeroes,
// in place, the rest of the page-cache folio that straddles the new end
// (truncate_inode_partial_folio in mm/truncate.c), and sendfile hands the
// socket references to those folios, not copies, so bytes zeroed after
// sendfile took them go out as zeros in a body of full length (seen here:
// a 42,400-byte file cut to 12,400 under load gave a complete 200 of
// 42,400 bytes, zeros from byte 12,400). A page-aligned size does not
// avoid it where folios are larger than a page (ext4's, since Linux
// 6.16). A truncate to 0 leaves no folio straddling the end.

// grow appends to the file in place: 1 KiB (small) or 4 KiB (large) at a
// time, never across a page boundary; every fourth change starts again
// from a new version of the starting size (renamed over it).
func (e *staleEnv) grow(t *testing.T, f *staleFile, i int) {
	t.Helper()
	if i%4 == 0 {
		e.replace(t, f)
		return
	}
	add := 1 << 10
	if f.size > staleSmall {
		add = 4 << 10
	}
	off := len(f.cur)
	if off/4096 != (off+add-1)/4096 {
		t.Fatalf("the test's own arithmetic: an append of %d bytes at %d crosses a page", add, off)
	}
	v, mt := e.version()
	body := make([]byte, off+add)
	copy(body, f.cur)
	staleContent(body[off:], v, off)
	f.stage(staleVersion{n: v, status: 200, body: body, mtime: mt})
	w, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(body[off:]); err != nil || n != add {
		t.Fatalf("append: %d bytes, %v", n, err)
	}
	f.settle()
	w.Close()
	f.cur = body
	touch(t, f)
}

// shrink truncates the file in place to size 0 and writes a smaller new
// version into it, one page at most (1 KiB for the small file, 4 KiB for
// the large one); the empty file between is a version of its own. Every
// other change puts a new version of the starting size back (renamed
// over it).
func (e *staleEnv) shrink(t *testing.T, f *staleFile, i int) {
	t.Helper()
	if i%2 == 0 {
		e.replace(t, f)
		return
	}
	size := 1 << 10
	if f.size > staleSmall {
		size = 4 << 10
	}
	v, mt := e.version()
	w, err := os.OpenFile(f.path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	f.stage(staleVersion{n: v, status: 200, body: []byte{}, mtime: mt})
	if err := w.Truncate(0); err != nil {
		t.Fatal(err)
	}
	f.settle()
	nv := staleNew(v, size, mt)
	f.stage(nv)
	if n, err := w.WriteAt(nv.body, 0); err != nil || n != size {
		t.Fatalf("write: %d bytes, %v", n, err)
	}
	f.settle()
	f.cur = nv.body
	touch(t, f)
}

// rewrite changes one byte of the file in place (the size stays), at a
// place that moves with each version, and sets the modification time
// forward: only the content and the time tell the versions apart.
func (e *staleEnv) rewrite(t *testing.T, f *staleFile, _ int) {
	t.Helper()
	v, mt := e.version()
	at := (v*7919 + 13) % len(f.cur)
	body := bytes.Clone(f.cur)
	body[at] ^= 0xff
	f.stage(staleVersion{n: v, status: 200, body: body, mtime: mt})
	w, err := os.OpenFile(f.path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(body[at:at+1], int64(at)); err != nil {
		t.Fatal(err)
	}
	f.settle()
	w.Close()
	f.cur = body
	touch(t, f)
}

// rename renames a new version over the file.
func (e *staleEnv) rename(t *testing.T, f *staleFile, _ int) {
	t.Helper()
	e.replace(t, f)
}

// remove deletes the file, and the next change puts a new version in its
// place (renamed in).
func (e *staleEnv) remove(t *testing.T, f *staleFile, _ int) {
	t.Helper()
	if f.cur == nil {
		e.replace(t, f)
		return
	}
	f.stage(staleVersion{status: 404})
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	f.settle()
	f.cur = nil
}

// swapDir changes the directory that holds the files (dir, under the
// root), in turn: the directory is renamed away and a symlink to a
// sibling directory (inside the root) holding new versions takes its
// place; that symlink is replaced by one to another sibling (renamed over
// it); the symlink is removed and a real directory holding new versions
// renamed into its place. Nothing is deleted: a request on its way
// through an old path finds what it found before.
func (e *staleEnv) swapDir(t *testing.T, dir string, fs []*staleFile, i int) {
	t.Helper()
	v, mt := e.version()
	sibling := func(name string) []staleVersion {
		p := filepath.Join(filepath.Dir(dir), name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		var nvs []staleVersion
		for _, f := range fs {
			nv := staleNew(v, f.size, mt)
			stalePut(t, filepath.Join(p, filepath.Base(f.path)), nv.body, mt)
			nvs = append(nvs, nv)
		}
		return nvs
	}
	do := func(nvs []staleVersion, call func() error) {
		for j, f := range fs {
			if nvs == nil {
				f.stage(staleVersion{status: 404})
			} else {
				f.stage(nvs[j])
			}
		}
		if err := call(); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			f.settle()
		}
	}
	target := fmt.Sprintf("s%d", v)
	switch i % 3 {
	case 0: // a directory: swapped for a symlink to a sibling directory
		nvs := sibling(target)
		do(nil, func() error { return os.Rename(dir, fmt.Sprintf("%s.away%d", dir, v)) })
		do(nvs, func() error { return os.Symlink(target, dir) })
	case 1: // a symlink: replaced by one to another sibling
		nvs := sibling(target)
		if err := os.Symlink(target, dir+".new"); err != nil {
			t.Fatal(err)
		}
		do(nvs, func() error { return os.Rename(dir+".new", dir) })
	case 2: // a symlink: removed, and a directory renamed into its place
		name := fmt.Sprintf("%s.new%d", filepath.Base(dir), v)
		nvs := sibling(name)
		do(nil, func() error { return os.Remove(dir) })
		do(nvs, func() error { return os.Rename(filepath.Join(filepath.Dir(dir), name), dir) })
	}
	for _, f := range fs {
		f.cur = f.latest().body
	}
}

// check asks for f's path as a client would right after a change: the
// first request sent after the change's last system call returned. It
// must get the version in force, whole: 404 if the file is gone;
// otherwise 200, the bytes, their length as Content-Length, the version's
// Last-Modified, and, if the file changed since the checker last saw it,
// an ETag other than the one it saw then, which the server no longer
// takes for the current one (If-None-Match with the old ETag: 200 and the
// new bytes, not 304).
func (e *staleEnv) check(t *testing.T, f *staleFile, what string) {
	t.Helper()
	want := f.latest()
	resp, body, err := e.checker.get(f.url, "")
	if err != nil {
		t.Fatalf("after %s, GET %s: %v", what, f.url, err)
	}
	e.checks++
	if want.status == 404 {
		if resp.StatusCode != 404 {
			got, _ := f.identify(body)
			t.Fatalf("stale: after %s, the next GET %s answered %d with %s; want 404", what, f.url, resp.StatusCode, got)
		}
		return
	}
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) || !bytes.Equal(body, want.body) {
		got, _ := f.identify(body)
		t.Fatalf("stale: after %s, the next GET %s answered %d, Content-Length %d, with %s; want 200 and %v",
			what, f.url, resp.StatusCode, resp.ContentLength, got, want)
	}
	if lm, wlm := resp.Header.Get("Last-Modified"), want.mtime.UTC().Format(http.TimeFormat); lm != wlm {
		t.Fatalf("stale header: after %s, GET %s answered the new bytes with Last-Modified %q; want %q (%v)", what, f.url, lm, wlm, want)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatalf("after %s, GET %s answered with no ETag", what, f.url)
	}
	if old := f.etag; old != "" && f.etagVersion != f.now() {
		if etag == old {
			t.Fatalf("stale header: after %s, GET %s answered the new bytes (%v) with the ETag %s of the version before", what, f.url, want, etag)
		}
		resp, body, err := e.checker.get(f.url, "If-None-Match: "+old+"\r\n")
		if err != nil {
			t.Fatalf("after %s, GET %s with If-None-Match: %s: %v", what, f.url, old, err)
		}
		e.checks++
		if resp.StatusCode != 200 || !bytes.Equal(body, want.body) {
			got, _ := f.identify(body)
			t.Fatalf("stale validator: after %s, GET %s with If-None-Match: %s (the ETag before the change) answered %d with %s; want 200 and %v",
				what, f.url, old, resp.StatusCode, got, want)
		}
	}
	f.etag, f.etagVersion = etag, f.now()
}

// TestHTTPStaleness changes files under one zcopy http while loaders
// (staleLoaders goroutines, each on a keep-alive connection) loop GETs of
// the changing files and of two files that never change, from start to
// end. Each case is a subtest that changes a 4 KiB file and a 100 KiB one
// (which sendfile moves) over and over:
//   - rename: a new version written under a temporary name in the same
//     directory and renamed over the file;
//   - grow: appended to in place;
//   - shrink: truncated in place (to 0) and a smaller version written;
//   - delete: removed (404), then put back (renamed in);
//   - dirswap: the directory holding both renamed away and a symlink to a
//     sibling directory with other versions put in its place, that
//     symlink replaced by another, then a real directory again;
//   - rewrite: one byte changed in place, the size kept, the modification
//     time set forward.
//
// Every change sets the file's modification time to its own second, so
// versions differ in Last-Modified as well as bytes. Changes in place are
// each made of system calls that no reader can see half done (see grow),
// so that a torn body can only be the server's.
//
// The rule for each change: the first response that starts after the
// change (its request sent after the change's system call returned)
// carries the new state. It is checked without timing: after each change
// a checker sends a GET on its keep-alive connection and wants the new
// version whole (or 404), its Last-Modified and a new ETag, and then a GET
// with If-None-Match and the ETag from before the change, which must not
// be answered 304. The loaders hold every response to the same rule: each
// must carry a version no older than the one in force when its request
// was sent (a state that held at some time during the request). A
// complete 200 (a body as long as its Content-Length) that is no version
// of the file is torn; none is allowed, in at least staleQuota complete
// responses to changing files. A response cut short (the connection
// closed before the end of the body, or of the header) is allowed only if
// the file shrank while it was under way; it is counted apart.
//
// A server that opens each file afresh passes. A cache of open files
// passes only if every hit sees every change: fstat on the cached
// descriptor shows a rename over the file or a delete (no links left),
// growth, shrinking and a rewrite (size, mtime, ctime), but not a
// directory above it renamed away or a symlink swapped: the path itself
// must be looked up again (or the cache told, before the next request,
// by inotify events read on every hit).
func TestHTTPStaleness(t *testing.T) {
	began := time.Now()
	root := t.TempDir()
	e := &staleEnv{base: time.Now().Add(-48 * time.Hour).Truncate(time.Second)}

	// The files that never change.
	var fixed []*staleTarget
	if err := os.Mkdir(filepath.Join(root, "fixed"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{staleSmall, staleLarge} {
		v, mt := e.version()
		nv := staleNew(v, size, mt)
		name := fmt.Sprintf("fixed/%d.bin", size)
		stalePut(t, filepath.Join(root, name), nv.body, mt)
		fixed = append(fixed, newStaleTarget("/"+name, false, nv))
	}

	s := startHTTP(t, root, "--metrics", "127.0.0.1:0")
	addr := s.Addr(t)
	e.checker.addr = addr
	defer e.checker.close()
	l := startStaleLoad(addr, staleLoaders, fixed)
	t.Cleanup(l.halt)

	type staleCase struct {
		name, what string
		change     func(e *staleEnv, t *testing.T, f *staleFile, i int)
	}
	cases := []staleCase{
		{"rename", "a new version renamed over it", (*staleEnv).rename},
		{"grow", "an append in place", (*staleEnv).grow},
		{"shrink", "a truncate in place and a smaller version written", (*staleEnv).shrink},
		{"delete", "its removal or return", (*staleEnv).remove},
		{"dirswap", "a swap of its directory", nil},
		{"rewrite", "a byte rewritten in place, mtime set forward", (*staleEnv).rewrite},
	}
	share := int64(staleQuota+len(cases)-1) / int64(len(cases))
	var changing []*staleTarget
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caseBegan := time.Now()
			dir := filepath.Join(root, c.name)
			if c.name == "dirswap" {
				dir = filepath.Join(dir, "d")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			var fs []*staleFile
			for _, size := range []int{staleSmall, staleLarge} {
				v, mt := e.version()
				nv := staleNew(v, size, mt)
				rel, _ := filepath.Rel(root, filepath.Join(dir, fmt.Sprintf("%d.bin", size)))
				f := &staleFile{
					staleTarget: newStaleTarget("/"+filepath.ToSlash(rel), c.name == "shrink", nv),
					path:        filepath.Join(root, rel),
					size:        size,
					cur:         nv.body,
				}
				stalePut(t, f.path, nv.body, mt)
				e.check(t, f, "its creation")
				fs = append(fs, f)
				changing = append(changing, f.staleTarget)
			}
			// Of every sixteen requests of a loader, ten go for the small
			// changing file, four for the large one (which costs more
			// under -race), and one for each fixed file.
			sm, lg := fs[0].staleTarget, fs[1].staleTarget
			l.aim([]*staleTarget{sm, lg, sm, sm, lg, sm, fixed[0], sm, sm, lg, sm, sm, lg, sm, fixed[1], sm})
			defer l.aim(fixed) // after a failure

			failed := func() bool {
				for _, f := range fs {
					if n, _ := f.failures(); n > 0 {
						return true
					}
				}
				return false
			}
			done := func(i int) bool {
				if i < staleMinSteps {
					return false
				}
				a, b := fs[0].complete.Load(), fs[1].complete.Load()
				return a+b >= share && min(a, b) >= share/4
			}
			i := 0
			for ; !done(i) && !failed(); i++ {
				if time.Since(caseBegan) > staleHangGuard {
					t.Fatalf("after %d changes in %v the loaders had checked %d and %d complete responses; want %d in all, %d each (a hang guard)",
						i, staleHangGuard, fs[0].complete.Load(), fs[1].complete.Load(), share, share/4)
				}
				if c.change == nil {
					e.swapDir(t, dir, fs, i)
				} else {
					c.change(e, t, fs[i%2], i/2)
				}
				e.changes++
				figs.fault("http file changed under load: " + c.name)
				for _, f := range fs {
					e.check(t, f, c.what)
				}
			}
			// The responses in flight at the last change are judged
			// before the verdict: the loaders are sent back to the fixed
			// files, and aim returns once each has judged the request it
			// had under way.
			if !l.aim(fixed) {
				t.Fatalf("the loaders did not finish their requests in %v (a hang guard)", 2*replyWait)
			}
			for _, f := range fs {
				n, errs := f.failures()
				t.Logf("%s: the loaders checked %d complete responses, %d 404s, %d responses cut short by a shrink; %d torn, %d stale, %d failures",
					f.url, f.complete.Load(), f.notFound.Load(), f.cutShort.Load(), f.torn.Load(), f.stale.Load(), n)
				if n > 0 {
					t.Errorf("%s: the loaders saw %d failures in %d changes (%s); the first:\n  %s", f.url, n, i, c.what, strings.Join(errs, "\n  "))
				}
			}
			t.Logf("%d changes in %v", i, time.Since(caseBegan).Round(time.Millisecond))
		})
	}
	l.halt()

	var complete, notFound, cutShort, torn, fixedComplete, nbytes int64
	for _, tg := range changing {
		nbytes += tg.nbytes.Load()
		complete += tg.complete.Load()
		notFound += tg.notFound.Load()
		cutShort += tg.cutShort.Load()
		torn += tg.torn.Load()
	}
	for _, tg := range fixed {
		nbytes += tg.nbytes.Load()
		fixedComplete += tg.complete.Load()
		if n, errs := tg.failures(); n > 0 {
			t.Errorf("%s, which never changed: %d failures; the first:\n  %s", tg.url, n, strings.Join(errs, "\n  "))
		}
	}
	figs.mu.Lock()
	figs.HTTPResponses += complete + fixedComplete + int64(e.checks)
	figs.Bytes += nbytes
	figs.mu.Unlock()
	t.Logf("%d changes; %d checks right after a change; the loaders checked %d complete responses to changing files (%d torn), %d 404s, %d responses cut short by a shrink, and %d complete responses to fixed files; %v",
		e.changes, e.checks, complete, torn, notFound, cutShort, fixedComplete, time.Since(began).Round(time.Millisecond))
	if !t.Failed() && complete < staleQuota {
		t.Errorf("the loaders checked %d complete responses to changing files; want at least %d", complete, staleQuota)
	}
	staleSendfileRan(t, s)
	s.stop(t)
}

// staleSendfileRan checks, by the server's metrics, that sendfile moved
// bodies in this test: the large files are meant to go by it.
func staleSendfileRan(t *testing.T, s *proc) {
	t.Helper()
	m := regexp.MustCompile(`metrics on http://([^/\s]+)/metrics`).FindStringSubmatch(s.Log())
	if m == nil {
		t.Fatalf("the server did not say where it serves its metrics:\n%s", firstLines(s.Log(), 20))
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sendfile := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "zcopy_http_body_bytes_total{") || strings.HasPrefix(line, "zcopy_http_truncations_total") {
			lines = append(lines, line)
		}
		if v, ok := strings.CutPrefix(line, `zcopy_http_body_bytes_total{send_method="sendfile"} `); ok {
			sendfile, _ = strconv.ParseFloat(v, 64)
		}
	}
	t.Logf("server metrics: %s", strings.Join(lines, "; "))
	if sendfile <= 0 {
		t.Errorf("the server's metrics show no body bytes moved by sendfile: the sendfile path was not exercised")
	}
}
