package zerocopy

import (
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity asked of each splice pipe (F_SETPIPE_SZ). It is
// /proc/sys/fs/pipe-max-size's default; an unprivileged process over its
// pipe-user-pages budget gets less, and the pipe keeps what it got.
const pipeSize = 1 << 20

// pipe is a kernel pipe used as the splice buffer. data counts the bytes in
// it; only an empty pipe goes back to the pool.
type pipe struct {
	r, w    int
	size    int
	data    int
	cleanup runtime.Cleanup // closes the pipe if the pool drops it
}

// pipePool keeps empty pipes between transfers, as internal/poll's
// splicePipePool does for the standard library's splice: a pipe costs three
// system calls to make. The pool's pipes are the only descriptors this
// package holds between calls; the garbage collector closes those the pool
// lets go (runtime.AddCleanup).
var pipePool sync.Pool

// getPipe returns an empty pipe from the pool or makes one, counting the
// system calls it issues in t.
func (t *transfer) getPipe() (*pipe, error) {
	if p, ok := pipePool.Get().(*pipe); ok {
		return p, nil
	}
	var fds [2]int
	err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK)
	t.stats.Syscalls++
	if err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	p := &pipe{r: fds[0], w: fds[1], size: 64 << 10}
	size, err := unix.FcntlInt(uintptr(p.w), unix.F_SETPIPE_SZ, pipeSize)
	t.stats.Syscalls++
	if err == nil {
		p.size = size
	}
	p.cleanup = runtime.AddCleanup(p, closePipe, fds)
	return p, nil
}

// putPipe returns an empty pipe to the pool. A pipe that still holds data
// (a transfer failed half way) is closed at once, as internal/poll's
// putPipe does, not left for the garbage collector: a program that sees
// many failed transfers would otherwise pile up descriptors.
func putPipe(p *pipe) {
	if p.data == 0 {
		pipePool.Put(p)
		return
	}
	p.cleanup.Stop()
	closePipe([2]int{p.r, p.w})
}

func closePipe(fds [2]int) {
	unix.Close(fds[0])
	unix.Close(fds[1])
}
