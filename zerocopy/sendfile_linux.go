package zerocopy

import (
	"os"

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
	var written int64
	for n < 0 || written < n {
		if err := t.ctx.Err(); err != nil {
			return true, err
		}
		want := t.chunk
		if n >= 0 {
			want = min(want, n-written)
		}
		var m int
		var serr error
		err := t.conn.Write(func(fd uintptr) bool {
			for {
				pos := off + written
				m, serr = unix.Sendfile(int(fd), t.fd, &pos, int(want))
				t.stats.Syscalls++
				switch serr {
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false
				}
				return true
			}
		})
		if m > 0 {
			written += int64(m)
			t.advance(int64(m))
		}
		if err != nil {
			return true, err
		}
		if serr != nil {
			if written == 0 && isRefusal(serr) {
				return false, os.NewSyscallError("sendfile", serr)
			}
			return true, os.NewSyscallError("sendfile", serr)
		}
		if m <= 0 {
			if n < 0 {
				return true, nil
			}
			return true, t.truncated(off, n)
		}
	}
	return true, nil
}
