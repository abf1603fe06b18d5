package httpserve

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// Server serves one directory over HTTP/1.1 with the zerocopy engine under
// net/http. It is an http.Handler; Serve runs it on a listener with the
// connection wrapper that lets the engine move bodies.
type Server struct {
	cfg          Config
	root         *os.Root
	files        *fileCache
	log          *slog.Logger
	metrics      *metrics
	maxConns     int
	writeTimeout time.Duration
	epoch        time.Time // when New ran, with its monotonic reading: conn's deadline clock

	listingLimit    int64          // Config.ListingMemory or its default; 0: no bound
	listingUsed     atomic.Int64   // bytes of listing pages held (listingBudget)
	listingLog      atomic.Int64   // UnixNano of the last warning of a refused listing
	index           []string       // Config.Index or its default
	accessLogFailed atomic.Bool    // the last access log write failed (warned once)
	inflight        sync.WaitGroup // requests between their handler's start and finish
	stopNow         context.CancelFunc
	stopCtx         context.Context // cancelled by Stop
}

var _ http.Handler = (*Server)(nil)

// New opens cfg.Dir and returns a server for it. Close releases the
// directory.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("httpserve: no directory to serve")
	}
	if !zerocopy.Supported(cfg.Method, true) {
		return nil, fmt.Errorf("httpserve: method %v is not available on this system (have %v)", cfg.Method, zerocopy.SendMethods())
	}
	fi, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("httpserve: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("httpserve: %s is not a directory", cfg.Dir)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("httpserve: %w", err)
	}
	openFiles := cfg.OpenFiles
	if openFiles == 0 {
		openFiles = DefaultOpenFiles
	}
	s := &Server{
		cfg:          cfg,
		root:         root,
		files:        newFileCache(root, cfg.Dir, openFiles),
		log:          cfg.Logger,
		metrics:      newMetrics(cfg.Registry),
		maxConns:     cfg.MaxConns,
		writeTimeout: orDefault(cfg.WriteTimeout, DefaultWriteTimeout),
		epoch:        time.Now(),
	}
	s.files.hideDot = !cfg.Dotfiles
	if s.log == nil {
		s.log = discardLogger
	}
	s.stopCtx, s.stopNow = context.WithCancel(context.Background())
	s.index = cfg.Index
	if s.index == nil {
		s.index = []string{"index.html"}
	}
	if s.maxConns <= 0 {
		s.maxConns = DefaultMaxConns
	}
	s.listingLimit = max(cmp.Or(cfg.ListingMemory, DefaultListingMemory), 0)
	return s, nil
}

// Close releases the served directory and the open-file cache. Call it
// after Serve has returned.
func (s *Server) Close() error {
	s.files.close()
	return s.root.Close()
}

// Stop ends a graceful shutdown at once, as if its grace period had run
// out: the responses still in flight are cut and their connections closed.
// Called before Serve's context is cancelled, it makes that shutdown
// immediate. (zcopy http calls it on a second SIGINT or SIGTERM.)
func (s *Server) Stop() { s.stopNow() }

// MetricsHandler serves the server's Prometheus metrics.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// Serve serves HTTP (HTTPS with Config.TLSConfig) on ln until ctx is
// cancelled, then shuts down gracefully: it stops accepting, closes idle
// connections, and lets in-flight responses run for up to ShutdownGrace
// before it closes what remains. It returns nil after a shutdown, or the
// error that stopped the listener.
//
// Plain HTTP is served by fasthttp (see fastpath.go), HTTPS by net/http;
// both answer through the same code (decide) and send file bodies by the
// engine.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	l := newListener(ln, s)
	// Requests live under hard, not ctx: a shutdown lets them finish, and
	// only the end of the grace period cancels them.
	hard, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	var serve func() error
	var shutdown func(context.Context) error
	closed := http.ErrServerClosed
	if s.cfg.TLSConfig == nil && fastPath {
		srv := s.newFastServer()
		l.reads = readTimeouts{
			on:     true,
			header: orDefault(s.cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout),
			idle:   orDefault(s.cfg.IdleTimeout, DefaultIdleTimeout),
		}
		serve = func() error { return srv.Serve(l) }
		shutdown = srv.ShutdownWithContext
		closed = nil
	} else {
		srv := s.newNetHTTPServer(hard)
		var hl net.Listener = l
		if s.cfg.TLSConfig != nil {
			tc := s.cfg.TLSConfig.Clone()
			tc.NextProtos = []string{"http/1.1"}
			hl = tls.NewListener(l, tc)
		}
		serve = func() error { return srv.Serve(hl) }
		shutdown = srv.Shutdown
	}
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		// The listener failed: end what still runs before returning.
		l.Close()
		now, cancel := context.WithCancel(context.Background())
		cancel()
		shutdown(now)
		hardStop()
		l.closeAll()
		s.awaitHandlers()
		if err == nil || errors.Is(err, closed) {
			err = errors.New("httpserve: the listener stopped")
		}
		return err
	case <-ctx.Done():
	}

	grace := orDefault(s.cfg.ShutdownGrace, DefaultShutdownGrace)
	s.log.Info("shutting down: no new connections; in-flight responses may finish", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if grace <= 0 {
		cancel()
	}
	defer context.AfterFunc(s.stopCtx, cancel)()
	if err := shutdown(sctx); err != nil {
		s.log.Warn("grace period over: closing the connections still open", "grace", grace)
		hardStop()
		l.closeAll()
	}
	err := <-errc
	s.awaitHandlers()
	if err != nil && !errors.Is(err, closed) {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// awaitHandlers waits, at most handlerWait, for the requests still being
// answered (their connections closed, they end at their next write), so
// that no access log line or OnResponse call comes after Serve returns.
func (s *Server) awaitHandlers() {
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(handlerWait):
		s.log.Warn("requests still being answered after the server stopped", "waited", handlerWait)
	}
}

// handlerWait bounds awaitHandlers.
const handlerWait = 5 * time.Second

// newNetHTTPServer makes the net/http server that serves HTTPS.
func (s *Server) newNetHTTPServer(hard context.Context) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	return &http.Server{
		Handler:                      s,
		ReadHeaderTimeout:            orDefault(s.cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:                  orDefault(s.cfg.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:               maxRequestHeader,
		Protocols:                    &protos,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:                  func(net.Listener) context.Context { return hard },
		// StateIdle comes after the response is flushed: the listener may
		// then close the connection to make room at the cap, until
		// StateActive, once a request is read (from the socket or from
		// net/http's buffer).
		ConnState: func(nc net.Conn, st http.ConnState) {
			if st != http.StateIdle && st != http.StateActive {
				return
			}
			if tc, ok := nc.(*tls.Conn); ok {
				nc = tc.NetConn()
			}
			if c, ok := nc.(*conn); ok {
				if st == http.StateIdle {
					c.markIdle()
				} else {
					c.markActive()
				}
			}
		},
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			if tc, ok := nc.(*tls.Conn); ok {
				nc = tc.NetConn()
			}
			if c, ok := nc.(*conn); ok {
				return context.WithValue(ctx, connKey{}, c)
			}
			return ctx
		},
	}
}

// ServeMetrics serves the metrics at /metrics on ln until ctx is cancelled.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.MetricsHandler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
