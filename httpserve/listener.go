package httpserve

import (
	"cmp"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zcopy/zcopy/internal/oncelistener"
)

// listener wraps the server's listener: it caps the connections open at once
// and wraps each accepted connection in a conn, whose ReadFrom puts the
// engine under net/http.
//
// At the cap, a new connection is accepted and held while room is made for
// it as nginx makes it (ngx_drain_connections, src/core/ngx_connection.c):
// the least recently used connections that wait between requests (or for
// their first) are closed, max(1, min(32, idle/8)) at a time, so idle
// keep-alive connections cannot lock new clients out until they time out.
// A connection reading a request or writing a response is never closed to
// make room. With no idle connection the new one waits, in hand, for a slot
// or for a connection to go idle.
type listener struct {
	net.Listener
	srv       *Server
	slots     chan struct{} // one token per open connection
	done      chan struct{}
	closeOnce sync.Once

	waiting  atomic.Bool   // Accept holds a connection and waits for room
	wakeIdle chan struct{} // a connection went idle while one waits
	lastLog  atomic.Int64  // UnixNano of the last Info about reclaiming
	// tick orders the moments connections go idle (conn.idleSince): a
	// counter, not the clock, which a request would pay to read.
	tick atomic.Int64
	// reads are the read deadlines its conns arm themselves (the fast
	// path), set before the first Accept.
	reads readTimeouts

	mu    sync.Mutex
	conns map[*conn]struct{} // open, for closeAll and reclaimIdle
}

func newListener(ln net.Listener, s *Server) *listener {
	return &listener{
		Listener: oncelistener.Wrap(ln), // Serve returns with it closed
		srv:      s,
		slots:    make(chan struct{}, s.maxConns),
		done:     make(chan struct{}),
		wakeIdle: make(chan struct{}, 1),
		conns:    make(map[*conn]struct{}),
	}
}

// Accept takes a free slot and waits for a connection, or, at the cap,
// waits for a connection and then makes room for it (makeRoom).
func (l *listener) Accept() (net.Conn, error) {
	slot := false
	select {
	case l.slots <- struct{}{}:
		slot = true
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	nc, err := l.accept()
	if err != nil {
		if slot {
			<-l.slots
		}
		return nil, err
	}
	if !slot && !l.makeRoom() {
		nc.Close()
		return nil, net.ErrClosed
	}
	m := l.srv.metrics
	m.connsOpen.Inc()
	m.connsTotal.Inc()
	c := &conn{
		Conn:         nc,
		srv:          l.srv,
		l:            l,
		writeTimeout: l.srv.writeTimeout,
		reads:        l.reads,
	}
	// Waiting for its first request, a connection is idle too (nginx's
	// ngx_http_init_connection makes it reusable at once).
	c.idleSince.Store(l.tick.Add(1))
	c.idle.Store(connIdle)
	c.onClose = func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		m.connsOpen.Dec()
		<-l.slots
	}
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return c, nil
}

// makeRoom takes a slot for a connection accepted at the cap: one freed
// meanwhile, or one that closing idle connections frees; with none idle, it
// waits for a slot or for a connection to go idle. It reports false if the
// listener was closed.
func (l *listener) makeRoom() bool {
	l.waiting.Store(true)
	defer l.waiting.Store(false)
	for {
		select {
		case l.slots <- struct{}{}:
			return true
		default:
		}
		if l.reclaimIdle() > 0 {
			continue // their onClose freed their slots
		}
		select {
		case l.slots <- struct{}{}:
			return true
		case <-l.wakeIdle:
		case <-l.done:
			return false
		}
	}
}

// idleNow is called when a connection goes idle: it wakes a makeRoom
// waiting for one.
func (l *listener) idleNow() {
	if l.waiting.Load() {
		select {
		case l.wakeIdle <- struct{}{}:
		default:
		}
	}
}

// reclaimMax bounds the idle connections closed at once, as nginx's
// ngx_drain_connections does.
const reclaimMax = 32

// reclaimIdle closes the least recently used idle connections, as many as
// nginx would (max(1, min(32, idle/8))), and returns how many it closed.
// A connection with input waiting is not idle: its next request is
// arriving.
func (l *listener) reclaimIdle() int {
	type cand struct {
		c     *conn
		since int64
	}
	var idle []cand
	l.mu.Lock()
	for c := range l.conns {
		if c.idle.Load() == connIdle {
			idle = append(idle, cand{c, c.idleSince.Load()})
		}
	}
	l.mu.Unlock()
	if len(idle) == 0 {
		return 0
	}
	slices.SortFunc(idle, func(a, b cand) int { return cmp.Compare(a.since, b.since) })
	want := max(1, min(reclaimMax, len(idle)/8))
	closed := 0
	for _, x := range idle {
		if closed == want {
			break
		}
		if unreadInput(x.c.Conn) || !x.c.idle.CompareAndSwap(connIdle, connReclaimed) {
			continue
		}
		// Idle, so between requests: nothing is half-written, and the
		// client sends its next request on a new connection.
		x.c.closeNow()
		closed++
	}
	if closed > 0 {
		l.srv.metrics.idleReclaimed.Add(float64(closed))
		l.srv.log.Debug("closed idle connections to make room for a new one", "closed", closed, "idle", len(idle), "max_conns", l.srv.maxConns)
		now := time.Now().UnixNano()
		if last := l.lastLog.Load(); now-last >= int64(time.Second) && l.lastLog.CompareAndSwap(last, now) {
			l.srv.log.Info("connection cap reached: closing idle keep-alive connections to make room for new clients", "max_conns", l.srv.maxConns)
		}
	}
	return closed
}

// closeAll closes every connection still open, at once (no lingering
// close): the end of a shutdown's grace period.
func (l *listener) closeAll() {
	l.mu.Lock()
	open := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		open = append(open, c)
	}
	l.mu.Unlock()
	for _, c := range open {
		c.closeNow()
	}
}

// accept accepts a connection, waiting out a shortage of descriptors or
// memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) as net/http does, from 5 ms
// doubling to 1 s, instead of returning it: fasthttp ends Serve on any
// error of Accept that is not a timeout.
func (l *listener) accept() (net.Conn, error) {
	var wait time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err == nil || !shortage(err) {
			return nc, err
		}
		wait = min(max(2*wait, 5*time.Millisecond), time.Second)
		l.srv.log.Warn("accept failed; retrying", "error", err, "in", wait)
		select {
		case <-time.After(wait):
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
}

// shortage reports whether err is a lack of descriptors or memory, which
// passes.
func shortage(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// Close stops accepting; it also wakes an Accept waiting for a slot.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}
