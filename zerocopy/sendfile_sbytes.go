//go:build darwin || freebsd

// The systems whose sendfile(2) reports the bytes it sent even when it fails
// (through its sbytes or len argument): darwin and freebsd.

package zerocopy

import "golang.org/x/sys/unix"

const haveSendfile = true

// sendSendfile loops sendfile(2) on Darwin and FreeBSD. Neither updates the
// offset through x/sys/unix, so the loop keeps its own. Both may return
// EAGAIN having moved bytes (Go's internal/poll notes this for Darwin), so
// the count is taken before the error is looked at.
func (t *transfer) sendSendfile(off, n int64) (bool, error) {
	if t.conn == nil {
		return false, errNoDescriptor
	}
	var written int64
	for n < 0 || written < n {
		if err := t.stopped(); err != nil {
			return true, err
		}
		want := t.chunk
		if n >= 0 {
			want = min(want, n-written)
		}
		var m int
		var serr, stop error
		err := t.conn.Write(func(fd uintptr) bool {
			for {
				pos := off + written
				k, err := unix.Sendfile(int(fd), t.fd, &pos, int(want))
				t.stats.Syscalls++
				if k > 0 {
					m += k
					written += int64(k)
					t.advance("sendfile", int64(k))
				}
				switch err {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					if k > 0 {
						return true
					}
					// Wait for the socket to drain, unless cancelled.
					stop = t.stopped()
					return stop != nil
				}
				serr = err
				return true
			}
		})
		if over, handled, err := t.afterSendfile(err, stop, serr, m, written, off, n); over {
			return handled, err
		}
	}
	return true, nil
}
