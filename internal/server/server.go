// Package server runs an accept loop that hands each connection to a
// handler in its own goroutine, within bounds: at most MaxSessions
// connections are handled at once (the next are handed to Refuse), and at
// most MaxPending of them before their handshake is done (meanwhile the
// loop accepts nothing, and new connections wait in the kernel's listen
// queue). On shutdown it stops accepting and waits for the connections in
// flight for at most Grace, then cancels them (issue 14: a slow peer
// could keep a server from stopping forever).
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zcopy/zcopy/internal/oncelistener"
)

// Defaults for Config: a server serves up to 1,024 transfers at once,
// shakes hands with up to 64 peers at once, and gives the transfers in
// flight a minute to finish once told to stop.
const (
	DefaultMaxSessions = 1024
	DefaultMaxPending  = 64
	DefaultGrace       = time.Minute
)

// Config says how Serve serves.
type Config struct {
	// Once serves the first connection that completes its handshake
	// (calls admitted), with ctx itself (its end cancels the session), one
	// connection at a time and no other bounds. A connection whose
	// handler returns without calling admitted is a stray (a port
	// scanner, nc -z, a browser, a wrong token): the listener stays open
	// and Serve waits for the next, as iperf3 -s does (issue 18). The
	// listener is closed once a connection is admitted.
	Once bool
	// Wait, with Once, bounds the wait for a connection that completes
	// its handshake: once it has passed with none admitted, the listener
	// is closed and Serve returns ErrNoPeer (after a handshake in progress
	// then ends unadmitted; one admitted still serves). 0 waits until ctx
	// ends.
	Wait time.Duration
	// MaxSessions bounds the connections handled at once
	// (DefaultMaxSessions if 0); one more is handed to Refuse.
	MaxSessions int
	// MaxPending bounds the connections handled (or refused) at once
	// that have not finished their handshake (DefaultMaxPending if 0).
	MaxPending int
	// Grace is how long, once ctx ends, the handlers in flight may go on
	// before their context is cancelled (0 cancels them at once).
	Grace time.Duration
	// Now, if not nil, ends the grace period at once when it is closed
	// (zcopy cuts the transfers in flight so on a second signal).
	Now <-chan struct{}

	// Handle serves one connection. Its context ends only when Grace has
	// passed after ctx's end. It calls admitted once the handshake is
	// done (if it never does, its return counts as that).
	Handle func(ctx context.Context, c net.Conn, admitted func())
	// Refuse answers a connection beyond MaxSessions (it closes the
	// connection when it returns, if Refuse did not). Its context is
	// ctx: a stopping server refuses no longer. Nil closes such a
	// connection at once.
	Refuse func(ctx context.Context, c net.Conn)
	// Log gets one line about each trouble of the server itself: an
	// accept error retried, connections cut at the end of the grace
	// period. Info gets the lines that only say what it does: handshakes
	// at their bound, the drain begun. Either may be nil.
	Log, Info func(string)
}

// logTo writes a line to f, unless it is nil.
func logTo(f func(string), format string, a ...any) {
	if f != nil {
		f(fmt.Sprintf(format, a...))
	}
}

// Stats say how a Serve ended.
type Stats struct {
	// Cut counts the handlers still running when the grace period ran
	// out, whose context was then cancelled.
	Cut int
}

// Serve accepts connections on ln and handles each, concurrently, until
// ctx is done; then it closes ln and drains the handlers in flight (see
// Config.Grace). A temporary accept error (such as running out of file
// descriptors) is logged and retried after a pause, as net/http does.
// Serve always closes ln, and has finished closing it when it returns:
// a peer that connects after that is refused by the kernel.
func Serve(ctx context.Context, ln net.Listener, cfg Config) (Stats, error) {
	ln = oncelistener.Wrap(ln) // so that Serve returns with it closed
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	if cfg.Once {
		return Stats{}, once(ctx, ln, &cfg)
	}
	s := &server{cfg: &cfg, pending: make(chan struct{}, cmp.Or(cfg.MaxPending, DefaultMaxPending))}
	s.sessions, s.cut = context.WithCancel(context.WithoutCancel(ctx))
	defer s.cut()
	err := s.loop(ctx, ln)
	ln.Close() // before the drain: the kernel completes no more handshakes
	return s.drain(), err
}

type server struct {
	cfg      *Config
	sessions context.Context // the handlers'
	cut      context.CancelFunc
	pending  chan struct{} // a token per connection not past its handshake
	wg       sync.WaitGroup
	mu       sync.Mutex
	active   int       // connections handled now
	waitLog  time.Time // when the loop last logged that it waits for handshakes
}

// waitLogEvery spaces the lines that say the loop waits for handshakes: a
// flood of silent peers fills the slots again as each one times out.
const waitLogEvery = time.Minute

// loop accepts until ctx ends or ln fails.
func (s *server) loop(ctx context.Context, ln net.Listener) error {
	for {
		// A connection is accepted only with a handshake slot free.
		select {
		case s.pending <- struct{}{}:
		default:
			if time.Since(s.waitLog) >= waitLogEvery {
				s.waitLog = time.Now()
				logTo(s.cfg.Info, "%d connections have not finished their handshake: accepting no more until one does (the rest wait in the listen queue)", cap(s.pending))
			}
			select {
			case s.pending <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
		}
		c, err := accept(ctx, ln, s.cfg)
		if c == nil {
			<-s.pending
			return err
		}
		s.mu.Lock()
		full := s.active >= cmp.Or(s.cfg.MaxSessions, DefaultMaxSessions)
		if !full {
			s.active++
		}
		s.mu.Unlock()
		s.wg.Add(1)
		if full {
			go s.refuse(ctx, c)
		} else {
			go s.handle(c)
		}
	}
}

// accept returns the next connection, retrying temporary errors; nil and
// no error once ctx is done or ln is closed.
func accept(ctx context.Context, ln net.Listener, cfg *Config) (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return nil, nil
		}
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout() || isTemporary(err)) {
			return nil, err
		}
		logTo(cfg.Log, "accept: %v (retrying)", err)
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, nil
		}
	}
}

func (s *server) handle(c net.Conn) {
	defer s.wg.Done()
	var once sync.Once
	admitted := func() { once.Do(func() { <-s.pending }) }
	defer func() {
		admitted()
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	s.cfg.Handle(s.sessions, c, admitted)
}

func (s *server) refuse(ctx context.Context, c net.Conn) {
	defer s.wg.Done()
	defer func() { <-s.pending }()
	defer c.Close()
	if s.cfg.Refuse != nil {
		s.cfg.Refuse(ctx, c)
	}
}

// drain waits for the handlers in flight for the grace period (or until
// Config.Now is closed), then cancels those still running and waits for
// them to return.
func (s *server) drain() Stats {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	s.mu.Lock()
	n := s.active
	s.mu.Unlock()
	if n > 0 {
		logTo(s.cfg.Info, "stopping: accepting no more connections; waiting up to %s (the grace period) for the %d in flight", s.cfg.Grace, n)
	}
	grace := time.NewTimer(s.cfg.Grace)
	defer grace.Stop()
	cutNow := false
	select {
	case <-done:
		return Stats{}
	case <-grace.C:
	case <-s.cfg.Now:
		cutNow = true
	}
	s.mu.Lock()
	n = s.active
	s.mu.Unlock()
	switch {
	case n > 0 && cutNow:
		logTo(s.cfg.Log, "told to stop now: cutting the %d connections still in flight", n)
	case n > 0:
		logTo(s.cfg.Log, "the grace period (%s) is over: cutting the %d connections still in flight", s.cfg.Grace, n)
	}
	s.cut()
	<-done
	return Stats{Cut: n}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// ErrNoPeer reports a one-shot Serve (Config.Once) whose Config.Wait
// passed without a connection that completed its handshake.
var ErrNoPeer = errors.New("no peer completed the handshake in time")

// once serves connections one at a time until one is admitted (see
// Config.Once), ctx ends, cfg.Wait passes or ln fails.
func once(ctx context.Context, ln net.Listener, cfg *Config) error {
	var late atomic.Bool
	if cfg.Wait > 0 {
		t := time.AfterFunc(cfg.Wait, func() {
			late.Store(true)
			ln.Close()
		})
		defer t.Stop()
	}
	for {
		c, err := accept(ctx, ln, cfg)
		if c == nil {
			if err == nil && late.Load() && ctx.Err() == nil {
				return ErrNoPeer
			}
			return err
		}
		var admitted atomic.Bool
		cfg.Handle(ctx, c, func() {
			if !admitted.Swap(true) {
				ln.Close() // later peers are refused by the kernel
			}
		})
		if admitted.Load() || ctx.Err() != nil {
			return nil
		}
		if late.Load() {
			ln.Close() // the timer may not have yet
			return ErrNoPeer
		}
	}
}
