package zerocopy

import (
	"runtime"

	"golang.org/x/sys/unix"
)

const haveSendfile = true

// sendSendfile loops sendfile(2), each call bounded by the chunk size and by
// the bytes that remain (asking for more than remains stalls the last piece:
// Go issues 41513, 45256). Linux moves at most 0x7ffff000 bytes a call and
// returns a short count when the socket buffer fills or the file ends.
func (t *transfer) sendSendfile(off, n int64) (bool, error) {
	if t.conn == nil {
		return false, errNoDescriptor
	}
	var (
		written, want int64
		m             int
		serr, stop    error
	)
	limit := int64(-1) // where the body ends, when that is known
	if n >= 0 && t.regular {
		limit = off + n
	}
	// One closure for the whole loop: made inside it, the closure and the
	// variables it shares would be allocated anew for every call.
	call := func(fd uintptr) bool {
		for {
			m, serr = t.sendfile(int(fd), off+written, want, limit)
			switch serr {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				// Wait for the socket to drain, unless cancelled.
				stop = t.stopped()
				return stop != nil
			}
			return true
		}
	}
	for n < 0 || written < n {
		if err := t.stopped(); err != nil {
			return true, err
		}
		want = t.chunk
		if n >= 0 {
			want = min(want, n-written)
		}
		m, serr = 0, nil
		err := t.conn.Write(call)
		if m > 0 {
			written += int64(m)
			t.advance("sendfile", int64(m))
		}
		if over, handled, err := t.afterSendfile(err, stop, serr, m, written, off, n); over {
			return handled, err
		}
	}
	return true, nil
}

// sendfile issues one sendfile(2) of up to n bytes of the file at off to
// the socket sock, as a raw call when it cannot sleep (see noSleep). limit
// is where the body ends in the file, or -1 if that is not known.
//
// With GOMAXPROCS 1 no call is raw (it would hold the only P), so the
// system calls that judge whether one may be are not made either.
func (t *transfer) sendfile(sock int, off, n, limit int64) (int, error) {
	t.stats.Syscalls++
	checks := t.noSleep.checks
	raw := runtime.GOMAXPROCS(0) > 1 && t.noSleep.sendfile(sock, t.fd, off, n, limit)
	t.stats.Syscalls += t.noSleep.checks - checks
	if raw && rawBusy.CompareAndSwap(false, true) {
		t.stats.RawSyscalls++
		if testHookRawSendfile != nil {
			testHookRawSendfile()
		}
		m, err := rawSendfile(sock, t.fd, off, n)
		rawBusy.Store(false)
		return m, err
	}
	pos := off
	return unix.Sendfile(sock, t.fd, &pos, int(n))
}
