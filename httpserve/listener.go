package httpserve

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// listener wraps the server's listener: it caps the connections open at once
// and wraps each accepted connection in a conn, whose ReadFrom puts the
// engine under net/http.
type listener struct {
	net.Listener
	srv       *Server
	slots     chan struct{} // one token per open connection
	done      chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[*conn]struct{} // open, for closeAll
}

func newListener(ln net.Listener, s *Server) *listener {
	return &listener{
		Listener: ln,
		srv:      s,
		slots:    make(chan struct{}, s.maxConns),
		done:     make(chan struct{}),
		conns:    make(map[*conn]struct{}),
	}
}

// Accept waits for a free slot, then for a connection. While the cap is
// reached, new connections wait in the kernel's accept queue.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	nc, err := l.accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	m := l.srv.metrics
	m.connsOpen.Inc()
	m.connsTotal.Inc()
	c := &conn{
		Conn:         nc,
		srv:          l.srv,
		writeTimeout: l.srv.writeTimeout,
	}
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
