package zerocopy

import (
	"os"

	"golang.org/x/sys/unix"
)

const haveSplice = true

// sendSplice moves the body file -> pipe -> socket. Each round fills the
// pipe from the file at an explicit offset (the file position never moves)
// and drains it into the socket, waiting on the poller when the socket is
// full.
func (t *transfer) sendSplice(off, n int64) (bool, error) {
	return t.withPipe(func(p *pipe) (bool, error) { return t.sendThrough(p, off, n) })
}

// sendThrough is sendSplice's loop, through the pipe p.
func (t *transfer) sendThrough(p *pipe, off, n int64) (bool, error) {
	var written int64
	for n < 0 || written < n {
		if err := t.stopped(); err != nil {
			return true, err
		}
		in, err := t.fillPipe(p, off+written, t.pipeLoad(p, n, written))
		if err != nil {
			if written == 0 && isRefusal(err) {
				return false, err
			}
			return true, err
		}
		if in == 0 {
			if n < 0 {
				return true, nil
			}
			return true, t.truncated(off, n)
		}
		for p.data > 0 {
			if err := t.stopped(); err != nil {
				return true, err
			}
			m, err := t.drainPipe(p)
			written += int64(m)
			t.advance("splice", int64(m))
			if err != nil {
				if written == 0 && isRefusal(err) {
					return false, err
				}
				return true, err
			}
		}
	}
	return true, nil
}

// withPipe runs f with a splice pipe from the pool, given back when f
// returns (closed, if a failure left data in it). It refuses a peer that
// has no descriptor.
func (t *transfer) withPipe(f func(p *pipe) (bool, error)) (bool, error) {
	if t.conn == nil {
		return false, errNoDescriptor
	}
	p, err := t.getPipe()
	if err != nil {
		return false, err
	}
	defer putPipe(p)
	return f(p)
}

// pipeLoad is how many bytes the next round puts in the empty pipe p: as
// many as it holds, at most a chunk, and at most the n-done that remain
// (n < 0: until end of stream).
func (t *transfer) pipeLoad(p *pipe, n, done int64) int64 {
	want := min(int64(p.size), t.chunk)
	if n >= 0 {
		want = min(want, n-done)
	}
	return want
}

// fillPipe splices up to want bytes of the file at off into the empty pipe.
func (t *transfer) fillPipe(p *pipe, off, want int64) (int, error) {
	for {
		pos := off
		n, err := unix.Splice(t.fd, &pos, p.w, nil, int(want), unix.SPLICE_F_MOVE)
		t.stats.Syscalls++
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &FileError{Err: os.NewSyscallError("splice", err)}
		}
		p.data += int(n)
		return int(n), nil
	}
}

// drainPipe splices what the pipe holds into the socket, once it is
// writable.
func (t *transfer) drainPipe(p *pipe) (int, error) {
	m, err := t.pollSplice(t.conn.Write, func(fd int) (int64, error) {
		return splice(p.r, nil, fd, nil, p.data, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	})
	p.data -= m
	return m, err
}

// pollSplice runs one splice on the descriptor behind a RawConn's Read or
// Write (wait): EINTR is retried, EAGAIN waits on the poller.
func (t *transfer) pollSplice(wait func(func(uintptr) bool) error, splice func(fd int) (int64, error)) (int, error) {
	var m int
	var serr error
	err := wait(func(fd uintptr) bool {
		for {
			n, err := splice(int(fd))
			t.stats.Syscalls++
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				serr = t.stopped()
				return serr != nil
			case nil:
				m = int(n)
			default:
				serr = os.NewSyscallError("splice", err)
			}
			return true
		}
	})
	if serr == nil {
		serr = err
	}
	return m, serr
}

// receiveSplice moves data socket -> pipe -> file. The pipe is filled from
// the socket (waiting on the poller while it is empty) and pumped into the
// file at off, or at the file's position when off < 0.
func (t *transfer) receiveSplice(off, n int64) (bool, error) {
	return t.withPipe(func(p *pipe) (bool, error) { return t.receiveThrough(p, off, n) })
}

// receiveThrough is receiveSplice's loop, through the pipe p.
func (t *transfer) receiveThrough(p *pipe, off, n int64) (bool, error) {
	var got int64
	for n < 0 || got < n {
		if err := t.stopped(); err != nil {
			return true, err
		}
		in, err := t.pipeFromPeer(p, t.pipeLoad(p, n, got))
		if err != nil {
			if got == 0 && isRefusal(err) {
				return false, err
			}
			return true, err
		}
		if in == 0 {
			return true, t.earlyEOF(got, n)
		}
		for p.data > 0 {
			if err := t.stopped(); err != nil {
				return true, err
			}
			m, err := t.pipeToFile(p, advanceOffset(off, got))
			got += int64(m)
			t.advance("splice", int64(m))
			if err == nil {
				continue
			}
			if got == 0 && t.auto && isRefusal(err) {
				// The file refuses splice (O_APPEND, a terminal). The pipe
				// holds bytes already taken from the socket: copy them out,
				// then let ReadWrite carry on.
				t.noteFallback(Splice, err)
				t.stats.Method = ReadWrite
				k, err := t.copyPipeToFile(p, off)
				got += int64(k)
				t.advance(fileCall(off), int64(k))
				if err != nil {
					return true, err
				}
				if n >= 0 && got >= n {
					return true, nil
				}
				rest := n
				if n >= 0 {
					rest = n - got
				}
				return t.receiveReadWrite(advanceOffset(off, got), rest)
			}
			return true, err
		}
	}
	return true, nil
}

// pipeFromPeer splices up to want bytes from the socket into the empty
// pipe, waiting while the socket is empty. It returns 0, nil at end of
// stream.
func (t *transfer) pipeFromPeer(p *pipe, want int64) (int, error) {
	m, err := t.pollSplice(t.conn.Read, func(fd int) (int64, error) {
		return splice(fd, nil, p.w, nil, int(want), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	})
	p.data += m
	return m, err
}

// pipeToFile splices what the pipe holds into the file at off (or at its
// own position when off < 0), waiting on the poller if the file is a
// non-blocking pipe.
func (t *transfer) pipeToFile(p *pipe, off int64) (int, error) {
	m, err := t.pollSplice(t.frc.Write, func(fd int) (int64, error) {
		if off < 0 {
			return splice(p.r, nil, fd, nil, p.data, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		}
		pos := off
		return splice(p.r, nil, fd, &pos, p.data, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	})
	p.data -= m
	return m, err
}

// copyPipeToFile empties the pipe into the file by read and write.
func (t *transfer) copyPipeToFile(p *pipe, off int64) (int, error) {
	bp := getBuf(t.bufSize)
	defer putBuf(bp)
	buf := *bp
	done := 0
	for p.data > 0 {
		k, err := unix.Read(p.r, buf[:min(len(buf), p.data)])
		t.stats.Syscalls++
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, os.NewSyscallError("read", err)
		}
		p.data -= k
		w, err := t.writeFile(buf[:k], advanceOffset(off, int64(done)))
		done += w
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// splice is unix.Splice with the count as an int64 on every platform
// (golang.org/x/sys/unix returns an int on 32-bit Linux).
func splice(rfd int, roff *int64, wfd int, woff *int64, n int, flags int) (int64, error) {
	m, err := unix.Splice(rfd, roff, wfd, woff, n, flags)
	return int64(m), err
}
