package zerocopy

import (
	"io/fs"
	"time"
)

// Default sizes. They bound memory per transfer: a transfer never holds more
// than one buffer, one mapping window or one pipe, whatever the file size.
const (
	// DefaultBufferSize is the ReadWrite buffer size.
	DefaultBufferSize = 256 << 10
	// DefaultChunkSize bounds one sendfile or splice call and one mmap window.
	DefaultChunkSize = 4 << 20
	// MaxChunkSize is the most Linux moves in one sendfile or splice call
	// (MAX_RW_COUNT); larger chunk sizes are clamped to it.
	MaxChunkSize = 0x7ffff000
)

// SendOptions tune SendFile. The zero value is ready to use: Auto method,
// default sizes, no lease, corking when a header or trailer is given.
type SendOptions struct {
	// Method is the transfer method; Auto picks one.
	Method Method
	// BufferSize is the ReadWrite buffer size (DefaultBufferSize if 0).
	BufferSize int
	// ChunkSize bounds each sendfile and splice call and each mmap window
	// (DefaultChunkSize if 0, clamped to MaxChunkSize). Smaller chunks notice
	// cancellation and lease breaks sooner; larger ones issue fewer calls.
	ChunkSize int64
	// Header and Trailer, if set, are written before and after the body. On
	// a TCP socket the three are corked together (TCP_CORK, TCP_NOPUSH) so
	// that they leave in full segments; with Auto, a body of at most
	// GatherMax bytes is instead read into memory and written with them in
	// one call (Stats.Method is then ReadWrite).
	Header, Trailer []byte
	// NoCork disables corking around Header and Trailer.
	NoCork bool
	// Lease asks for a read lease on a regular file while it is sent
	// (Linux; see "Writers and leases" in the package documentation):
	// the send then stops with ErrLeaseBroken as soon as another process
	// opens the file for writing or truncates it, instead of sending on.
	// Where the kernel refuses one, the send goes on without it and
	// Stats.LeaseNote says why.
	Lease bool
	// Progress, if set, is called with the body bytes moved so far after
	// each step of the transfer, from the calling goroutine.
	Progress func(done int64)
	// Info, if set, is src's fs.FileInfo as the caller has just taken it
	// (from fstat, or a stat of a name that leads to the same file):
	// SendFile takes the file's kind and size from it instead of calling
	// fstat itself. The size is where a whole-file send stops and the
	// baseline a truncation is measured against, so it must be no older
	// than the caller's own decision about what to send. A server that
	// revalidates a cached descriptor on each request saves a system call.
	// It must describe src: a regular file's Info given with a pipe makes
	// the send fail (pread: illegal seek) where SendFile's own fstat would
	// have read the pipe in order.
	Info fs.FileInfo
}

// ReceiveOptions tune ReceiveFile. The zero value is ready to use.
type ReceiveOptions struct {
	// Method is the receive method: Auto, ReadWrite or Splice.
	Method Method
	// BufferSize is the ReadWrite buffer size (DefaultBufferSize if 0).
	BufferSize int
	// ChunkSize bounds each splice call (DefaultChunkSize if 0); it is
	// further limited by the pipe's capacity.
	ChunkSize int64
	// Progress, if set, is called with the bytes received so far after each
	// step of the transfer, from the calling goroutine.
	Progress func(done int64)
}

// Stats describes one finished (or failed) transfer.
type Stats struct {
	// Bytes is the number of body bytes moved (headers and trailers are not
	// counted).
	Bytes int64 `json:"bytes"`
	// Method is the method that moved the body.
	Method Method `json:"method"`
	// Syscalls counts the system calls the engine issued for this transfer,
	// including those that returned EAGAIN. A Write on a destination that has
	// no file descriptor counts as one, and so does the read of a gathered
	// body (see GatherMax), made by os.File.ReadAt: two when the file ends
	// before the body does.
	Syscalls int64 `json:"syscalls"`
	// RawSyscalls counts those of Syscalls that were issued without telling
	// the Go scheduler, because they could not sleep: on Linux, sendfile(2)
	// of page-cached data to a non-blocking socket (see the package
	// documentation).
	RawSyscalls int64 `json:"raw_syscalls"`
	// Fallbacks counts methods that were tried and refused before Method.
	Fallbacks int `json:"fallbacks"`
	// FallbackReason says why the last refused method was refused.
	FallbackReason string `json:"fallback_reason,omitempty"`
	// Lease reports whether a read lease was held during the send.
	Lease bool `json:"lease"`
	// LeaseNote says why no lease was held, when one was asked for.
	LeaseNote string `json:"lease_note,omitempty"`
	// Corked reports whether header, body and trailer were corked together.
	Corked bool `json:"corked"`
	// Duration is the wall time of the transfer.
	Duration time.Duration `json:"-"`
}

func (o *SendOptions) chunk() int64 { return clampChunk(o.ChunkSize) }

func (o *ReceiveOptions) chunk() int64 { return clampChunk(o.ChunkSize) }

func clampChunk(c int64) int64 {
	switch {
	case c <= 0:
		return DefaultChunkSize
	case c > MaxChunkSize:
		return MaxChunkSize
	}
	return c
}

func bufferSize(n int) int {
	if n <= 0 {
		return DefaultBufferSize
	}
	return n
}
