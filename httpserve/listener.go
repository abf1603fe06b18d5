package httpserve

import (
	"net"
	"sync"
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
	nc, err := l.Listener.Accept()
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

// closeAll closes every connection still open: the end of a shutdown's
// grace period.
func (l *listener) closeAll() {
	l.mu.Lock()
	open := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		open = append(open, c)
	}
	l.mu.Unlock()
	for _, c := range open {
		c.Close()
	}
}

// Close stops accepting; it also wakes an Accept waiting for a slot.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}
