package httpserve

import (
	"crypto/tls"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zcopy/zcopy/zerocopy"
)

// Defaults for the zero fields of Config.
const (
	// DefaultMaxConns caps the connections served at once. Past it, new
	// connections wait in the kernel's accept queue.
	DefaultMaxConns = 4096
	// DefaultReadHeaderTimeout bounds the time a client may take to send a
	// request's header. On plain HTTP it bounds a new connection's wait
	// for its first byte, and every request from its second read on: a
	// request that arrives whole in one read, as nearly all do, arms no
	// deadline (see readdeadline.go).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout bounds the time a keep-alive connection may wait for
	// its next request. On plain HTTP the deadline moves lazily, so an idle
	// connection is closed between 7/8 of it and all of it after its last
	// response.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultWriteTimeout bounds each write: a response whose client takes
	// no byte for this long is abandoned and its connection closed. It is a
	// per-write limit, not a limit on the whole response, so a large download
	// to a slow but live client is never cut.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultListingMemory bounds the memory of directory listing pages
	// being built or waiting to be written, all connections together. A
	// listing shows at most 10,000 entries, so its page is at most about
	// 14 MB (names of 255 bytes): 64 MiB holds four such pages at once, or
	// thousands of pages of ordinary directories (a 100-entry page is about
	// 20 KB), and keeps clients that request large listings and never read
	// them from growing the server past that.
	DefaultListingMemory = 64 << 20
	// DefaultShutdownGrace is how long Serve lets in-flight responses finish
	// after its context is cancelled.
	DefaultShutdownGrace = 30 * time.Second
)

// Config describes a file server. Only Dir is required; zero values take the
// defaults above. A negative duration turns that timeout off.
type Config struct {
	// Dir is the directory served. Nothing outside it is reachable: files
	// are opened through an os.Root, which refuses "..", absolute names and
	// symbolic links that lead out of Dir.
	Dir string

	// Method moves response bodies (zerocopy.Auto: sendfile where the
	// platform has it, falling back to readwrite when the kernel refuses).
	Method zerocopy.Method
	// ChunkSize bounds each sendfile or splice call and each mmap window
	// (zerocopy.DefaultChunkSize if 0).
	ChunkSize int64
	// Lease asks the engine for a read lease on each file while it is
	// sent (Linux; zerocopy.SendOptions.Lease): a response is then cut,
	// and reported as truncated, as soon as another process opens the file
	// for writing, even to append, and such a writer waits while the lease
	// is given back. Off, a response goes on while the bytes it announced
	// exist, as nginx's do.
	Lease bool
	// NoCork sends the response header as net/http writes it instead of
	// holding it back and corking it with the body.
	NoCork bool

	// OpenFiles is how many regular files are kept open between requests,
	// each revalidated by a stat of its name on every hit (see fileCache):
	// DefaultOpenFiles if 0, none if negative, and never more than a
	// quarter of the limit on open files (RLIMIT_NOFILE).
	OpenFiles int
	// Precompressed serves NAME.br, NAME.zst or NAME.gz, where one lies
	// beside NAME, to a request whose Accept-Encoding takes that coding
	// (see precompressed.go).
	Precompressed bool
	// Index names the files served for a directory, the first present
	// first (["index.html"] if nil).
	Index []string
	// Dotfiles serves and lists names that start with a dot (".git",
	// ".env"); without it they are answered 404 and left out of listings.
	Dotfiles bool
	// NoList answers 403 for a directory that has no index.html instead of
	// listing it.
	NoList bool
	// ListingMemory bounds the bytes of directory listing pages being
	// built or waiting to be written, all connections together
	// (DefaultListingMemory if 0, no bound if negative). A page counts
	// from its first byte until its response is finished, however slowly
	// the client reads it; a listing that would pass the bound is answered
	// 503 with Retry-After.
	ListingMemory int64

	// Logger receives events such as truncated responses and shutdown (at
	// Warn and Info). Nil discards them.
	Logger *slog.Logger
	// AccessLog, if set, receives one line per request, in AccessLogFormat,
	// each in one Write call (a logfile.File may be reopened meanwhile).
	AccessLog io.Writer
	// AccessLogFormat is the access log's format: CombinedLog (nginx's
	// default, the zero value) or JSONLog.
	AccessLogFormat AccessLogFormat

	// Registry, if set, receives the server's Prometheus collectors;
	// otherwise the server makes its own registry, which MetricsHandler
	// serves together with the Go runtime and process collectors.
	Registry *prometheus.Registry

	// MaxConns caps the connections served at once (DefaultMaxConns if 0).
	MaxConns int
	// ReadHeaderTimeout, IdleTimeout and WriteTimeout: see the defaults.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	WriteTimeout      time.Duration
	// ShutdownGrace is how long in-flight responses may run on after Serve's
	// context is cancelled (DefaultShutdownGrace if 0).
	ShutdownGrace time.Duration

	// TLSConfig, if set, makes Serve speak HTTPS (HTTP/1.1 only) with it.
	// TLS encrypts in user space, so bodies are copied through the
	// process: the engine, and with it sendfile, is not used.
	TLSConfig *tls.Config

	// OnResponse, if set, is called after every response, from the
	// goroutine that served it. Tests use it to see which method moved a
	// body.
	OnResponse func(*Response)
}

// orDefault returns d when v is zero, 0 (no limit) when v is negative, and
// v otherwise.
func orDefault(v, d time.Duration) time.Duration {
	switch {
	case v == 0:
		return d
	case v < 0:
		return 0
	}
	return v
}
