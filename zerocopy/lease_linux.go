package zerocopy

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// leaseSignal is the real-time signal the kernel sends when a lease of ours
// is being broken (F_SETSIG). Go cannot read the siginfo that says which
// descriptor it is about, so the watcher asks every held lease with
// F_GETLEASE: one being broken reports its target type (F_UNLCK) instead of
// F_RDLCK.
const leaseSignal = syscall.Signal(38)

// leases is the process-wide set of held leases and the one goroutine that
// watches for leaseSignal. The goroutine starts with the first lease and
// runs for the life of the process.
var leases struct {
	once sync.Once
	mu   sync.Mutex
	held map[*lease]struct{}
}

// lease is a read lease on one open file description.
type lease struct {
	fd      int
	onBreak func()
}

// acquireLease takes a read lease on t's file. onBreak is called, from the
// watcher goroutine, when a writer opens or truncates the file.
func acquireLease(t *transfer, onBreak func()) (*lease, error) {
	leases.once.Do(func() {
		leases.held = make(map[*lease]struct{})
		ch := make(chan os.Signal, 16)
		signal.Notify(ch, leaseSignal)
		go watchLeases(ch)
	})
	if _, err := unix.FcntlInt(uintptr(t.fd), unix.F_SETSIG, int(leaseSignal)); err != nil {
		t.stats.Syscalls++
		return nil, fmt.Errorf("no lease: %w", os.NewSyscallError("fcntl F_SETSIG", err))
	}
	t.stats.Syscalls++
	_, err := unix.FcntlInt(uintptr(t.fd), unix.F_SETLEASE, unix.F_RDLCK)
	t.stats.Syscalls++
	if err != nil {
		why := ""
		switch err {
		case unix.EAGAIN:
			why = " (the file is open for writing)"
		case unix.EACCES, unix.EPERM:
			why = " (not the file's owner)"
		case unix.EINVAL:
			why = " (the filesystem has no leases)"
		}
		return nil, fmt.Errorf("no lease%s: %w", why, os.NewSyscallError("fcntl F_SETLEASE", err))
	}
	l := &lease{fd: t.fd, onBreak: onBreak}
	leases.mu.Lock()
	leases.held[l] = struct{}{}
	// A break that came between F_SETLEASE and now was signalled to a
	// watcher that did not know this lease yet: look once ourselves.
	l.check()
	t.stats.Syscalls++
	leases.mu.Unlock()
	return l, nil
}

// check calls onBreak if the lease is being broken. leases.mu is held.
func (l *lease) check() {
	typ, err := unix.FcntlInt(uintptr(l.fd), unix.F_GETLEASE, 0)
	if err != nil || typ != unix.F_RDLCK {
		l.onBreak()
	}
}

// release gives the lease back (F_UNLCK), which lets a waiting writer go on.
func (l *lease) release(t *transfer) {
	leases.mu.Lock()
	delete(leases.held, l)
	leases.mu.Unlock()
	unix.FcntlInt(uintptr(l.fd), unix.F_SETLEASE, unix.F_UNLCK)
	t.stats.Syscalls++
}

func watchLeases(ch <-chan os.Signal) {
	for range ch {
		leases.mu.Lock()
		for l := range leases.held {
			l.check()
		}
		leases.mu.Unlock()
	}
}
