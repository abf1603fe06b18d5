package zerocopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// transfer is the state of one SendFile or ReceiveFile call. Every method
// implementation works on it; the per-OS files supply its I/O primitives.
type transfer struct {
	ctx      context.Context
	stats    *Stats
	auto     bool            // the caller asked for Auto: fallbacks are allowed
	conn     syscall.RawConn // the peer's descriptor; nil when it has none
	w        io.Writer       // the peer when conn is nil (send)
	r        io.Reader       // the peer when conn is nil (receive)
	file     *os.File
	frc      syscall.RawConn // file's RawConn (unix), for writes that may see EAGAIN
	fd       int             // file's descriptor while withFile runs (unix)
	regular  bool            // file is a regular file: its size is known
	seq      bool            // file is read or written at its own position (no pread/pwrite)
	chunk    int64
	bufSize  int
	progress func(int64)
	done     int64 // body bytes moved so far
	noSleep  noSleep
	wr       pendingWrite       // the write in progress (rawio_unix.go)
	writeCB  func(uintptr) bool // t.writeSome, bound once
	st       Stats              // what stats points to in a pooled transfer (send)
}

// transferPool keeps SendFile's transfers, each with its writeCB (bound by
// its first writeAll) kept.
var transferPool = sync.Pool{New: func() any { return new(transfer) }}

// getTransfer returns a transfer from the pool, cleared, its figures in
// its own st.
func getTransfer() *transfer {
	t := transferPool.Get().(*transfer)
	t.stats = &t.st
	return t
}

// putTransfer clears t, dropping what it refers to, and pools it.
func putTransfer(t *transfer) {
	*t = transfer{writeCB: t.writeCB}
	transferPool.Put(t)
}

// pendingWrite is the write in progress in writeAll (rawio_unix.go): one
// at a time per transfer.
type pendingWrite struct {
	p     []byte
	write func(fd int, b []byte, done int) (int, error)
	done  int
	err   error
}

// testHookMoved, if set, is called each time body bytes reach their
// destination, with the system call that moved them there and the count:
// "sendfile", "splice", "write" (ReadWrite to a socket), "write-mapped"
// (MMap: write(2) from a mapping of the file), "pwrite" or "write" into
// the file (receiving), "Write" (a peer without a descriptor). Tests use it
// to prove which path carried the bytes, as net/sendfile_test.go does
// with poll.TestHookDidSendFile, rather than trust Stats.
var testHookMoved func(call string, n int64)

// advance records k more body bytes moved by the system call named call
// (see testHookMoved).
func (t *transfer) advance(call string, k int64) {
	if k <= 0 {
		return
	}
	if testHookMoved != nil {
		testHookMoved(call, k)
	}
	t.done += k
	if t.progress != nil {
		t.progress(t.done)
	}
}

// truncated builds the error for a send that found the file shorter than
// the size taken at the start. It looks at the file by os.File.Stat
// (fstat), which needs no descriptor held by the transfer: a gathered send
// may not hold one (sendSmall).
func (t *transfer) truncated(off, n int64) error {
	fi, err := t.file.Stat()
	t.stats.Syscalls++
	if err != nil {
		return fmt.Errorf("%w: %d of %d bytes sent", ErrTruncated, t.done, n)
	}
	return fmt.Errorf("%w: %d of %d bytes sent, the file now ends at %d (the range ends at %d)",
		ErrTruncated, t.done, n, fi.Size(), off+n)
}

// noteFallback records that method m was refused for reason err.
func (t *transfer) noteFallback(m Method, err error) {
	t.stats.Fallbacks++
	t.stats.FallbackReason = fmt.Sprintf("%v refused: %v", m, err)
}

// byMethods runs run with method m, or for Auto with each of auto in turn
// until one does not refuse (handled is false only when nothing moved).
// Stats.Method ends up naming the method that ran.
func (t *transfer) byMethods(m Method, auto []Method, run func(Method) (handled bool, err error)) error {
	candidates := []Method{m}
	if m == Auto {
		candidates = auto
	}
	for i, c := range candidates {
		t.stats.Method = c
		handled, err := run(c)
		if handled || !t.auto || i == len(candidates)-1 {
			return err
		}
		t.noteFallback(c, err)
	}
	return nil
}

// errNoDescriptor is the reason a fast path refuses a peer that has no file
// descriptor (a TLS connection, a bytes.Buffer, a wrapped writer).
var errNoDescriptor = errors.New("the peer has no file descriptor")

// monoEpoch is the origin of monotonic: one reading of the clock, taken
// when the package is initialised and only read after.
var monoEpoch = time.Now()

// monotonic returns the time on the monotonic clock since monoEpoch. A
// transfer's Duration is the difference of two such readings: two clock
// reads (vDSO clock_gettime), where time.Now and time.Since make three,
// time.Now reading the wall clock too.
func monotonic() time.Duration { return time.Since(monoEpoch) }

// aLongTimeAgo is a deadline in the past, used to wake a goroutine parked on
// the netpoller when its context is cancelled or its lease is broken.
var aLongTimeAgo = time.Unix(1, 0)

// wakeOnCancel arranges for set (a SetReadDeadline or SetWriteDeadline
// method) to be called with a past deadline when ctx is done, so that a
// goroutine parked in the netpoller returns. The returned stop function
// waits until set has finished if it started, so the caller may reset the
// deadline afterwards.
func wakeOnCancel(ctx context.Context, set func(time.Time) error) (stop func()) {
	if ctx.Done() == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	stopAfter := context.AfterFunc(ctx, func() {
		defer wg.Done()
		_ = set(aLongTimeAgo)
	})
	return func() {
		if stopAfter() {
			wg.Done()
		}
		wg.Wait()
	}
}

// cancelError turns an error seen while ctx was being cancelled into the
// error the caller should see: ErrLeaseBroken for a broken lease, the
// context's error for a cancellation. Other errors are returned as they are.
func (t *transfer) cancelError(parent context.Context, err error, n int64) error {
	if err == nil || t.ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(t.ctx); errors.Is(cause, ErrLeaseBroken) {
		return fmt.Errorf("%w after %d of %d bytes", cause, t.done, n)
	}
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("%w after %d bytes", context.Cause(parent), t.done)
	}
	return err
}

// stopped returns ctx's error once the transfer has been cancelled (or its
// lease broken). The loops ask before every system call that moves data
// and before every wait on the poller, so a caller that moves the
// connection's deadline after wakeOnCancel set it in the past (a Progress
// function that extends an idle timeout, say) cannot make a cancelled
// transfer go on.
func (t *transfer) stopped() error { return t.ctx.Err() }

var bufPool = sync.Pool{New: func() any { b := make([]byte, DefaultBufferSize); return &b }}

// getBuf returns a buffer of size n, from a pool when n is the default.
func getBuf(n int) *[]byte {
	if n == DefaultBufferSize {
		return bufPool.Get().(*[]byte)
	}
	b := make([]byte, n)
	return &b
}

func putBuf(b *[]byte) {
	if len(*b) == DefaultBufferSize {
		bufPool.Put(b)
	}
}
