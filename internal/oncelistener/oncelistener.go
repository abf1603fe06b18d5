// Package oncelistener wraps a net.Listener so that it is closed once, and
// a Close made while another is in progress waits for that one to finish.
//
// A second net.Listener.Close returns at once (internal/poll's FD.Close
// marks the descriptor closed, then wakes a pending Accept, then drops its
// reference), while the first, made in another goroutine by a timer or by
// a context's end (context.AfterFunc), may not yet have closed the socket.
// Code that returns once its Accept fails, and closes the listener on the
// way out, could otherwise return with the kernel still completing
// handshakes on it: a peer that connects then is accepted by the kernel
// and reset later, not refused.
package oncelistener

import (
	"net"
	"sync"
)

// Listener is a net.Listener whose Close closes the wrapped listener once;
// every call returns that close's error once it has finished.
type Listener struct {
	net.Listener
	once sync.Once
	err  error
}

// Wrap returns ln wrapped; ln must not be closed other than through it.
func Wrap(ln net.Listener) *Listener {
	return &Listener{Listener: ln}
}

// Close closes the wrapped listener, or waits for the Close in progress,
// and returns its error.
func (l *Listener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
