package httpserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// conn wraps each accepted connection. net/http's response.ReadFrom hands
// the rest of a body to the connection's ReadFrom when the connection has
// one (w.conn.rwc.(io.ReaderFrom)), still counting the bytes against the
// Content-Length; conn's ReadFrom gives a file body to zerocopy.SendFile.
//
// Corking: for a file response the handler flushes the header early and
// calls hold; conn then keeps what net/http writes (the header) and passes
// it to SendFile as SendOptions.Header, so the engine corks header and body
// together and uncorks after the body, on every path. Anything that is not
// followed by a file body is written out at the latest when the handler
// returns (release), before net/http writes anything more.
//
// Per-write timeout: every write, and every step of a SendFile, pushes the
// write deadline to now+writeTimeout when less than 7/8 of that is left
// (armWriteDeadline), so a stalled client is dropped while a slow one is
// served.
//
// A conn is used by one request at a time (HTTP/1.1), from the goroutine
// that serves it; only Close may come from another goroutine.
type conn struct {
	net.Conn // the accepted connection; SendFile writes to it directly

	srv          *Server
	l            *listener // the listener that accepted it, or nil
	writeTimeout time.Duration
	closing      sync.Once // the decision to close, lingering or not
	closeOnce    sync.Once // onClose
	onClose      func()

	// idle says whether the connection waits between requests (see
	// markIdle), and idleSince since when, as a tick of its listener's
	// clock (listener.tick: only the order matters): the listener closes
	// the least recently used idle connections to make room at the cap.
	idle      atomic.Int32
	idleSince atomic.Int64
	// keptAlive: a response was written, so a wait for a request is a
	// keep-alive wait (set by markIdle, on the serving goroutine).
	keptAlive bool

	// The read deadlines the conn arms itself (readdeadline.go): which
	// timeouts, what the armed one bounds and when it ends, in nanoseconds
	// of the monotonic clock since the server's epoch.
	reads     readTimeouts
	readFor   uint8
	readUntil time.Duration

	// The response in progress, set by begin and cleared by release.
	ctx     context.Context
	holding bool
	held    []byte
	stats   zerocopy.Stats // the engine's figures, summed over its calls
	used    bool           // the engine ran for this response
	sendErr error          // the first error of a body send

	// failed is set once a body send failed: the byte stream no longer
	// matches what net/http believes it wrote, so nothing more may be
	// written on this connection.
	failed error

	// peer is the connection with its RawConn taken once, for the engine
	// (nil until the first send, or if it has none): SyscallConn makes a
	// new one, an allocation, at every call.
	peer *rawPeer

	// armedUntil is when the write deadline armWriteDeadline set ends, in
	// nanoseconds of the monotonic clock since the server's epoch (a wall
	// clock stepped back would make an expired deadline look live), or 0
	// once anything else set it.
	armedUntil atomic.Int64
	// engineDeadline is set when the engine set a write deadline (through
	// rawPeer) to wake a cancelled send; one set after the last byte left
	// makes no error, so sendRange clears it whenever this is set.
	engineDeadline atomic.Bool
	// progressCB is SendFile's Progress for this connection's large
	// bodies (it pushes the write deadline), made once.
	progressCB func(int64)

	// body is the fast path's file body of the response in progress: a
	// connection answers one request at a time, and fasthttp has closed
	// the last body stream before it reads the next request.
	body fastBody
	// answer is where the fast path makes a file's answer (request.scratch),
	// for the same reason.
	answer answer
}

// rawPeer is what the engine writes to: c's connection with its RawConn
// taken once, and a SetWriteDeadline that tells c when the engine set a
// deadline (to wake itself when cancelled), which conn's own tracking of
// its write deadline (armedUntil) does not see.
type rawPeer struct {
	net.Conn
	c  *conn
	rc syscall.RawConn // nil: the connection has none
}

// SyscallConn returns the RawConn taken once.
func (p *rawPeer) SyscallConn() (syscall.RawConn, error) {
	if p.rc == nil {
		return nil, errors.ErrUnsupported
	}
	return p.rc, nil
}

// SetWriteDeadline sets the connection's write deadline and records that
// the engine set one: sendRange clears it after the send.
func (p *rawPeer) SetWriteDeadline(t time.Time) error {
	p.c.engineDeadline.Store(true)
	return p.Conn.SetWriteDeadline(t)
}

// dst returns what the engine writes to (a rawPeer).
func (c *conn) dst() io.Writer {
	if c.peer == nil {
		c.peer = &rawPeer{Conn: c.Conn, c: c}
		if sc, ok := c.Conn.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				c.peer.rc = rc
			}
		}
	}
	return c.peer
}

// A conn's idle states.
const (
	connActive    int32 = iota // reading or answering a request
	connIdle                   // waiting for a request, nothing of it read
	connReclaimed              // closed by the listener to make room
	connClosed                 // closed by its stack
)

// markIdle records that the connection waits for its next request: the
// stack has written the whole response (net/http's and fasthttp's
// ConnState StateIdle, which both fire after the response is flushed) and
// reads nothing yet. The first byte Read returns makes it active again; the
// listener may close it while it is idle (listener.reclaimIdle), which is a
// close between requests.
func (c *conn) markIdle() {
	c.keptAlive = true
	if c.l != nil {
		c.idleSince.Store(c.l.tick.Add(1))
	}
	if c.idle.CompareAndSwap(connActive, connIdle) {
		if c.l != nil {
			c.l.idleNow()
		}
	}
}

// markActive records that the stack has begun a request (net/http's and
// fasthttp's ConnState StateActive, which both fire once a request's
// first byte is in): a request the stack had read ahead, pipelined behind
// the last, begins without a Read, and the connection must not stay
// marked idle while it is answered, for the listener would take it for a
// connection between requests and could close it mid-response, and its
// reads for the rest of the request would wait under IdleTimeout.
func (c *conn) markActive() {
	c.idle.CompareAndSwap(connIdle, connActive)
}

// Read reads from the connection; bytes of a request make it active. A
// connection the listener reclaimed returns no bytes: the request they
// begin is not answered, as if it had come a moment later, after the close
// (the client retries it on a new connection; RFC 9112, section 9.3.1).
//
// Before it reads a connection's next request, Read yields the processor
// (runtime.Gosched), so that connections are answered in turn. A poll of
// the network makes runnable every connection whose request has come; when
// every processor is busy, the first to run, whose client answers quickly,
// would find its next request at once and keep the processor while the
// others wait in the run queue, for a read that finds data does not park
// and the scheduler polls again only once its run queues are empty
// (findRunnable in runtime/proc.go), after a stop of the world, or from
// sysmon after 10 ms. nginx too answers each ready connection once per
// turn of its event loop (ngx_epoll_process_events). In turn, the
// responses reach the client in bursts, which it reads together, instead
// of one connection's at a time, each waking it anew. The yield puts the
// goroutine at the back of the global run queue, under the scheduler's
// lock, once per keep-alive request; what it buys on 2 CPUs is measured in
// README.md ("zcopy http against nginx, measured"), and it was not
// measured on a machine with many. TestKeepAliveConnectionsServedInTurn
// guards it.
func (c *conn) Read(p []byte) (int, error) {
	st := c.idle.Load()
	if st == connIdle {
		runtime.Gosched()
		st = c.idle.Load()
	}
	if st >= connReclaimed {
		// Closed meanwhile (reclaimed, or by its stack, whose lingering
		// close has set its own read deadline).
		return 0, net.ErrClosed
	}
	if c.reads.on {
		c.armReadDeadline(st == connIdle)
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.idle.Load() != connActive {
		if !c.idle.CompareAndSwap(connIdle, connActive) {
			return 0, net.ErrClosed
		}
	}
	return n, err
}

var (
	_ io.ReaderFrom = (*conn)(nil)
	_ net.Conn      = (*conn)(nil)
)

// maxHeld bounds the header bytes held back for corking; a larger header
// is written at once and the body follows uncorked.
const maxHeld = 16 << 10

// begin starts a response: engine sends use ctx (the request's context).
func (c *conn) begin(ctx context.Context) {
	c.ctx = ctx
	c.holding = false
	c.stats = zerocopy.Stats{}
	c.used = false
	c.sendErr = nil
}

// hold makes the next writes wait for the body, to be corked with it.
func (c *conn) hold() {
	if !c.srv.cfg.NoCork && c.failed == nil {
		c.holding = true
	}
}

// release ends a response: held bytes are written out.
func (c *conn) release() {
	c.holding = false
	if err := c.flushHeld(); err != nil && c.sendErr == nil {
		c.sendErr = err
	}
	c.ctx = nil
	if cap(c.held) > 4<<10 {
		c.held = nil
	}
}

// Write writes p, or holds it back while a file body is expected.
func (c *conn) Write(p []byte) (int, error) {
	if c.failed != nil {
		return 0, c.failed
	}
	if c.holding && len(c.held)+len(p) <= maxHeld {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	c.holding = false
	if err := c.flushHeld(); err != nil {
		return 0, err
	}
	return c.write(p)
}

func (c *conn) write(p []byte) (int, error) {
	c.armWriteDeadline()
	return c.Conn.Write(p)
}

func (c *conn) flushHeld() error {
	if len(c.held) == 0 {
		return nil
	}
	_, err := c.write(c.held)
	c.held = c.held[:0]
	return err
}

// armWriteDeadline moves the write deadline to now+writeTimeout, unless the
// one armed already ends at least 7/8 of writeTimeout from now: so after
// every write the deadline is between 7/8 and 1 write timeouts away, and a
// connection answering thousands of small requests a second moves its
// deadline (a runtime timer) a few times a timeout instead of at every
// response.
func (c *conn) armWriteDeadline() {
	if c.writeTimeout <= 0 {
		return
	}
	epoch := c.srv.epoch
	now := time.Since(epoch) // monotonic
	if time.Duration(c.armedUntil.Load())-now >= c.writeTimeout-c.writeTimeout/8 {
		return
	}
	until := now + c.writeTimeout
	c.Conn.SetWriteDeadline(epoch.Add(until))
	c.armedUntil.Store(int64(until))
}

// SetWriteDeadline sets the connection's write deadline (net/http sets
// one around a TLS handshake); the next write arms its own again.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.armedUntil.Store(0)
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline sets the connection's read and write deadlines; the next
// write arms its own write deadline again.
func (c *conn) SetDeadline(t time.Time) error {
	c.armedUntil.Store(0)
	c.forgetReadDeadline()
	return c.Conn.SetDeadline(t)
}

// ReadFrom sends what src holds. A file, or an io.LimitedReader over one
// (what io.CopyN makes of http.ServeContent's content), goes by the engine
// from the file's current position, which is then moved past the bytes
// sent; anything else is copied through a buffer.
func (c *conn) ReadFrom(src io.Reader) (int64, error) {
	if c.failed != nil {
		return 0, c.failed
	}
	fs, ok := fileSourceOf(src)
	if !ok || c.ctx == nil {
		c.holding = false
		if err := c.flushHeld(); err != nil {
			return 0, err
		}
		return c.copyFrom(src)
	}
	n, err := c.sendFile(fs)
	if err != nil {
		c.failed = fmt.Errorf("connection abandoned after a failed body send: %w", err)
		if c.sendErr == nil {
			c.sendErr = err
		}
	}
	return n, err
}

// fileSource is a file body to send: a file at a position, with the
// reader that ReadFrom must leave as a copy would.
type fileSource struct {
	src io.Reader
	f   *os.File
	fr  *fileReader       // the position's keeper, or nil: f's own
	lr  *io.LimitedReader // the limit, or nil: to the end of the file
}

// fileSourceOf recognises a file body: a *fileReader or an *os.File, bare
// or inside an *io.LimitedReader.
func fileSourceOf(src io.Reader) (fileSource, bool) {
	s := fileSource{src: src}
	r := src
	if lr, ok := src.(*io.LimitedReader); ok {
		s.lr, r = lr, lr.R
	}
	switch x := r.(type) {
	case *fileReader:
		s.fr, s.f = x, x.f
	case *os.File:
		s.f = x
	default:
		return s, false
	}
	return s, true
}

// pos returns the position to send from.
func (s fileSource) pos() (int64, error) {
	if s.fr != nil {
		return s.fr.off, nil
	}
	return s.f.Seek(0, io.SeekCurrent)
}

// advance moves the position and the limit past n bytes sent.
func (s fileSource) advance(off, n int64) error {
	if s.lr != nil {
		s.lr.N -= n
	}
	if s.fr != nil {
		s.fr.off = off + n
		return nil
	}
	_, err := s.f.Seek(off+n, io.SeekStart)
	return err
}

// sendFile sends s's file from its position: the limit's bytes, or to the
// end of the file.
func (c *conn) sendFile(s fileSource) (int64, error) {
	c.holding = false
	want := int64(-1)
	if s.lr != nil {
		if s.lr.N <= 0 {
			return 0, c.flushHeld()
		}
		want = s.lr.N
	}
	off, err := s.pos()
	if err != nil {
		return 0, errors.Join(err, c.flushHeld())
	}
	n, err := c.sendRange(s.f, off, want, nil, nil, nil)
	if errors.Is(err, errNotRegular) {
		return c.copyFrom(s.src)
	}
	if aerr := s.advance(off, n); aerr != nil && err == nil {
		err = aerr
	}
	return n, err
}

// errNotRegular: sendRange was given a file that is not a regular file; the
// held bytes have been written.
var errNotRegular = errors.New("not a regular file")

// sendRange sends the held bytes and head, want bytes of f from off (to the
// end of the file if want < 0), and tail, by the engine, corked together.
// It returns the file's bytes sent. If the file is already shorter than
// the range, it sends the bytes that exist (without tail) and reports
// zerocopy.ErrTruncated. info, if not nil, is f's stat as just taken (the
// file cache's revalidation), which spares the fstat.
func (c *conn) sendRange(f *os.File, off, want int64, head, tail []byte, info fs.FileInfo) (int64, error) {
	c.holding = false
	if len(head) > 0 {
		c.held = append(c.held, head...)
	}
	// The engine checks the range against the size before it writes the
	// header; check first, so that a file truncated before this point
	// still gets its header and the bytes that exist.
	fi := info
	if fi == nil {
		var err error
		if fi, err = f.Stat(); err != nil {
			return 0, errors.Join(err, c.flushHeld())
		}
	}
	if !fi.Mode().IsRegular() {
		if err := c.flushHeld(); err != nil {
			return 0, err
		}
		return 0, errNotRegular
	}
	var short error
	avail := max(fi.Size()-off, 0)
	if want < 0 {
		want = avail
	} else if want > avail {
		short = fmt.Errorf("%w: the file ends at %d, %d bytes short of the response", zerocopy.ErrTruncated, fi.Size(), want-avail)
		want = avail
		tail = nil
	}
	if off > fi.Size() {
		return 0, errors.Join(short, c.flushHeld())
	}

	cfg := &c.srv.cfg
	opts := zerocopy.SendOptions{
		Method:    cfg.Method,
		ChunkSize: cfg.ChunkSize,
		Lease:     cfg.Lease,
		Header:    c.held,
		Trailer:   tail,
		NoCork:    cfg.NoCork,
		Info:      info,
	}
	if c.writeTimeout > 0 && want > zerocopy.GatherMax {
		// A step of the send is progress: push the deadline, at most a few
		// times per timeout period. (A body this small leaves in one step,
		// under the deadline armed below.)
		opts.Progress = c.progressCB
		if opts.Progress == nil {
			c.progressCB = func(int64) { c.armWriteDeadline() }
			opts.Progress = c.progressCB
		}
	}
	c.armWriteDeadline()
	st, err := zerocopy.SendFile(c.ctx, c.dst(), f, off, want, &opts)
	c.held = c.held[:0]
	c.addStats(st)
	if c.engineDeadline.Swap(false) || err != nil {
		// SendFile may have left a deadline in the past to wake itself,
		// even after a send that ended well (cancelled after its last
		// byte left), which no later write may inherit.
		c.SetWriteDeadline(time.Time{})
	}
	if err == nil {
		err = short
	}
	return st.Bytes, err
}

// addStats adds one SendFile call's figures to the response's.
func (c *conn) addStats(st zerocopy.Stats) {
	s := &c.stats
	if !c.used {
		*s = st
		c.used = true
		return
	}
	s.Bytes += st.Bytes
	s.Syscalls += st.Syscalls
	s.RawSyscalls += st.RawSyscalls
	s.Fallbacks += st.Fallbacks
	s.Duration += st.Duration
	s.Method = st.Method
	if st.FallbackReason != "" {
		s.FallbackReason = st.FallbackReason
	}
	s.Lease = s.Lease || st.Lease
	if st.LeaseNote != "" {
		s.LeaseNote = st.LeaseNote
	}
	s.Corked = s.Corked || st.Corked
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyFrom copies src through a pooled buffer and Write.
func (c *conn) copyFrom(src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(writerOnly{c}, src, *bp)
}

// writerOnly hides ReadFrom, so io.CopyBuffer does not call back into it.
type writerOnly struct{ io.Writer }

// CloseWrite shuts down the writing side, if the connection has one.
// net/http uses it to close gracefully after a request body it did not read.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection and frees its place under the cap. If the
// client has sent bytes that were never read (a request refused before its
// end, a body not wanted), closing at once would make the kernel answer them
// with a reset, which can destroy the response still on its way to the
// client (RFC 9112, section 9.6). Such a connection is closed as nginx's
// lingering_close does: the writing side first, then the input is read and
// dropped, for at most lingerTime and lingerBytes, before the close.
func (c *conn) Close() error {
	var err error
	c.closing.Do(func() {
		c.idle.Store(connClosed)
		if unreadInput(c.Conn) {
			if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				go c.linger()
				return
			}
		}
		err = c.Conn.Close()
		c.closeOnce.Do(c.onClose)
	})
	return err
}

// closeNow closes the connection at once, lingering or not.
func (c *conn) closeNow() {
	c.Conn.Close()
	c.closeOnce.Do(c.onClose)
}

// Lingering close bounds.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20
)

func (c *conn) linger() {
	c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(c.Conn, lingerBytes))
	c.Conn.Close()
	c.closeOnce.Do(c.onClose)
}

type connKey struct{}

// connFrom returns the conn serving ctx's request, or nil (a TLS
// connection is looked through to the conn beneath it).
func connFrom(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}
