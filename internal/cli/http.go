package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"github.com/zcopy/zcopy/internal/logfile"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/zerocopy"
)

func init() {
	register(&command{
		name:     "http",
		order:    40,
		synopsis: "http DIR [--listen ADDR] [--method M] [--no-list] [--log-format text|json] [--metrics ADDR] [--tls-cert F --tls-key F]",
		summary:  "serve a directory over HTTP, bodies by the engine (sendfile)",
		help: `Http serves the files under DIR to any HTTP/1.1 client (curl, wget, browsers,
aria2c): GET and HEAD, single and multiple ranges, If-Range, ETag and
Last-Modified with 304, 412 and 416, Content-Type by extension, keep-alive,
index.html for a directory (--index), and otherwise an HTML listing (--no-list:
403). Names that start with a dot, and links inside DIR that lead to one,
are neither served (404) nor listed unless --dotfiles.
Nothing outside DIR can be reached: not by "..", encoded dots, absolute paths
nor symbolic links that point outside. The bound address is printed on
stderr, so --listen 127.0.0.1:0 works.

Bodies go out by the zerocopy engine (--method; auto is sendfile where the
system has it), and the response header is corked with the body (TCP_CORK)
unless --no-cork. A file truncated while it is being sent never gives a short
body that looks complete: the connection is closed after the bytes that
exist, and the event is logged and counted.

With --precompressed, a request whose Accept-Encoding takes br, zstd or
gzip gets NAME.br, NAME.zst or NAME.gz where one lies beside NAME (as nginx's
gzip_static), sent like any file, with the original's Content-Type and
Vary: Accept-Encoding; ranges and ETags are per encoding.

Files served are kept open between requests (--open-files, default 1024),
and every request looks at the file's name again (one stat), so the first
request after a file is replaced, changed, truncated or deleted sees it.

Plain HTTP is served by fasthttp. TLS (--tls-cert and --tls-key) is served
by net/http and encrypts in user space, so HTTPS bodies are copied through
the process: sendfile cannot be used there. Both answer alike.

At most --max-conns connections are served at once. When they are all
open and another client connects, the connections that wait between
requests (keep-alive, or not yet sent a request) are closed to make room,
the least recently used first, as nginx does; one in the middle of a request
or a response never is. Directory listing pages being built or waiting for
their clients count against --listing-memory (default 64MiB, all clients
together); past it a listing gets 503 with Retry-After.

Each request is logged (--access-log: stderr, a FILE, or off) in nginx's
combined format, or as JSON with --log-format json (durations in seconds).
SIGHUP reopens the access log FILE, as logrotate expects. --metrics ADDR
serves Prometheus metrics at http://ADDR/metrics. SIGINT or SIGTERM stops
accepting and lets in-flight downloads finish for up to --grace before the
remaining connections are closed; a second SIGINT or SIGTERM closes them at
once.`,
		run: runHTTP,
	})
}

func runHTTP(e *env, args []string) int {
	c := commands["http"]
	fs := newFlagSet(c.name)
	listen := fs.String("listen", "127.0.0.1:8080", "serve on `ADDR` (host:port; port 0 picks one)")
	var m zerocopy.Method
	fs.TextVar(&m, "method", zerocopy.Auto, "body transfer `method`: auto, readwrite, mmap, sendfile, splice")
	noList := fs.Bool("no-list", false, "answer 403 for a directory without index.html instead of listing it")
	index := fs.String("index", "index.html", "serve the first of these `FILES` (comma-separated) present in a directory instead of listing it")
	dotfiles := fs.Bool("dotfiles", false, "serve and list names that start with a dot (.git, .env); off, they get 404 and are not listed")
	precompressed := fs.Bool("precompressed", false, "serve NAME.br, NAME.zst or NAME.gz beside NAME to clients that accept that encoding")
	logFormat := fs.String("log-format", "text", "log `format`: text or json")
	accessLog := fs.String("access-log", "stderr", "log every request to `WHERE`: stderr, a file (reopened on SIGHUP), or off")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on `ADDR` at /metrics")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with the certificate in `FILE` (PEM); needs --tls-key")
	tlsKey := fs.String("tls-key", "", "the private key for --tls-cert, in `FILE` (PEM)")
	maxConns := fs.Int("max-conns", httpserve.DefaultMaxConns, "most client connections served at once; at the cap, idle keep-alive connections are closed (least recently used first) to make room for new ones")
	openFiles := fs.Int("open-files", httpserve.DefaultOpenFiles, "most files kept open between requests (at most a quarter of the open-file limit); 0 keeps none")
	readHeader := fs.Duration("read-header-timeout", httpserve.DefaultReadHeaderTimeout, "most time a client may take to send a request header")
	idle := fs.Duration("idle-timeout", httpserve.DefaultIdleTimeout, "most time a keep-alive connection may wait for its next request")
	write := fs.Duration("write-timeout", httpserve.DefaultWriteTimeout, "drop a client that takes no byte for this long (per write, not per response)")
	grace := fs.Duration("grace", httpserve.DefaultShutdownGrace, "on SIGINT or SIGTERM, how long in-flight responses may finish")
	lease := fs.Bool("lease", false, "hold a read lease on each file while it is sent (Linux): a writer's open cuts the response and waits for the lease's release")
	noCork := fs.Bool("no-cork", false, "do not cork the response header with the body")
	var chunk bytesize.Value
	listingMemory := bytesize.Value(httpserve.DefaultListingMemory)
	fs.Var(&listingMemory, "listing-memory", "most memory (`SIZE`) for directory listing pages being built or waiting for slow clients, all together; past it a listing gets 503")
	fs.Var(&chunk, "chunk", "most bytes (`SIZE`) per sendfile or splice call and per mmap window (default 4MiB)")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	switch {
	case len(pos) != 1:
		return usageError(e, c, "want one DIR, got %d arguments", len(pos))
	case !zerocopy.Supported(m, true):
		return usageError(e, c, "method %v is not available on this system (have %v)", m, zerocopy.SendMethods())
	case (*tlsCert == "") != (*tlsKey == ""):
		return usageError(e, c, "--tls-cert and --tls-key go together")
	case *logFormat != "text" && *logFormat != "json":
		return usageError(e, c, "--log-format must be text or json, not %q", *logFormat)
	case *maxConns <= 0:
		return usageError(e, c, "--max-conns must be positive")
	case listingMemory <= 0:
		return usageError(e, c, "--listing-memory must be positive")
	}
	indexes := []string{} // none: always list
	for _, name := range strings.Split(*index, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return usageError(e, c, "--index %q: a file name, without a directory", name)
		}
		indexes = append(indexes, name)
	}
	var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
	if *logFormat == "json" {
		h = slog.NewJSONHandler(e.stderr, nil)
	}
	cfg := httpserve.Config{
		Dir:               pos[0],
		Method:            m,
		ChunkSize:         int64(chunk),
		Lease:             *lease,
		NoCork:            *noCork,
		NoList:            *noList,
		Precompressed:     *precompressed,
		Dotfiles:          *dotfiles,
		Index:             indexes,
		Logger:            slog.New(h),
		MaxConns:          *maxConns,
		ListingMemory:     int64(listingMemory),
		OpenFiles:         cmp.Or(*openFiles, -1),
		ReadHeaderTimeout: noLimit(*readHeader),
		IdleTimeout:       noLimit(*idle),
		WriteTimeout:      noLimit(*write),
		ShutdownGrace:     noLimit(*grace),
	}
	scheme := "http"
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fail(e, c, err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		scheme = "https"
	}
	if *logFormat == "json" {
		cfg.AccessLogFormat = httpserve.JSONLog
	}
	var logFile *logfile.File
	switch strings.ToLower(*accessLog) {
	case "off", "false", "no", "none", "":
	case "stderr", "true", "yes", "-":
		cfg.AccessLog = e.stderr
	default:
		var err error
		logFile, err = logfile.Open(*accessLog)
		if err != nil {
			return fail(e, c, err)
		}
		defer logFile.Close()
		cfg.AccessLog = logFile
	}
	srv, err := httpserve.New(cfg)
	if err != nil {
		return fail(e, c, err)
	}
	defer srv.Close()
	defer watchSignals(e, srv, logFile)()

	var lc net.ListenConfig
	ln, err := lc.Listen(e.ctx, "tcp", *listen)
	if err != nil {
		return fail(e, c, err)
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(e.ctx))
	defer stop()
	metricsDone := make(chan error, 1)
	if *metricsAddr != "" {
		mln, err := lc.Listen(e.ctx, "tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			return fail(e, c, fmt.Errorf("metrics: %w", err))
		}
		fmt.Fprintf(e.stderr, "zcopy http: metrics on http://%s/metrics\n", mln.Addr())
		go func() { metricsDone <- srv.ServeMetrics(ctx, mln) }()
	} else {
		metricsDone <- nil
	}
	fmt.Fprintf(e.stderr, "zcopy http: serving %s on %s://%s/\n", pos[0], scheme, ln.Addr())
	err = srv.Serve(e.ctx, ln)
	stop() // the metrics stay up through the grace period, then stop
	if merr := <-metricsDone; err == nil && merr != nil {
		err = fmt.Errorf("metrics: %w", merr)
	}
	if err != nil {
		return fail(e, c, err)
	}
	return exitOK
}

// watchSignals makes SIGHUP reopen the access log file (if there is one)
// instead of ending the process, and a second SIGINT or SIGTERM (the first
// cancels e.ctx, in main) end the grace period at once. It returns the
// function that stops watching.
func watchSignals(e *env, srv *httpserve.Server, logFile *logfile.File) (stop func()) {
	hup := make(chan os.Signal, 1)
	term := make(chan os.Signal, 2)
	signal.Notify(hup, syscall.SIGHUP)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		seen := 0
		for {
			select {
			case <-hup:
				if logFile == nil {
					continue
				}
				if err := logFile.Reopen(); err != nil {
					fmt.Fprintf(e.stderr, "zcopy http: SIGHUP: %v; the access log goes on to the file opened before\n", err)
				} else {
					fmt.Fprintf(e.stderr, "zcopy http: SIGHUP: reopened the access log %s\n", logFile.Path())
				}
			case <-term:
				if seen++; seen == 2 {
					fmt.Fprintf(e.stderr, "zcopy http: second signal: closing the connections still open now\n")
					srv.Stop()
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		signal.Stop(term)
		close(done)
	}
}

// noLimit maps a flag's 0 ("no limit") to the negative duration that
// httpserve.Config reads as no limit.
func noLimit(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
