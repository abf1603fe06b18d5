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
// is being broken (F_SETSIG, fcntl(2)). Go cannot read the siginfo that
// says which descriptor it is about, so the watcher asks every held lease
// with F_GETLEASE: one being broken reports its target type (F_UNLCK)
// instead of F_RDLCK (see ../shared/docs/kernel-notes.md).
const leaseSignal = syscall.Signal(38)

// leases is the set of held leases, keyed by descriptor, and the watcher
// that turns leaseSignal into calls of their holders' onBreak. The signal
// is asked for (signal.Notify) and the watcher started when the first lease
// is taken; both are given back (signal.Stop, the goroutine returns) when
// the last one is released, so a program that holds no lease has neither.
var leases struct {
	mu   sync.Mutex
	byFD map[int]*lease
	sig  chan os.Signal
	stop chan struct{}
	done chan struct{} // closed when the watcher has returned
}

// lease is a read lease on one open file description, shared by every
// send that holds it through the same descriptor: F_SETLEASE belongs to the
// open file, so the first holder takes it and only the last lets it go.
type lease struct {
	fd      int
	holders map[*leaseHold]struct{}
}

// leaseHold is one send's share of a lease.
type leaseHold struct {
	l       *lease
	onBreak func()
}

// acquireLease takes a read lease on t's file, or joins the one already
// held on its descriptor. onBreak is called, from the watcher goroutine or
// from acquireLease itself, when a writer opens or truncates the file.
func acquireLease(t *transfer, onBreak func()) (*leaseHold, error) {
	wait := func() {}
	defer func() { wait() }() // runs after the unlock below
	leases.mu.Lock()
	defer leases.mu.Unlock()
	h := &leaseHold{onBreak: onBreak}
	if l := leases.byFD[t.fd]; l != nil {
		h.l = l
		l.holders[h] = struct{}{}
		// The lease may be being broken already.
		if l.broken() {
			onBreak()
		}
		t.stats.Syscalls++
		return h, nil
	}
	_, err := unix.FcntlInt(uintptr(t.fd), unix.F_SETSIG, int(leaseSignal))
	t.stats.Syscalls++
	if err != nil {
		return nil, fmt.Errorf("no lease: %w", os.NewSyscallError("fcntl F_SETSIG", err))
	}
	if leases.byFD == nil {
		startWatcher()
	}
	_, err = unix.FcntlInt(uintptr(t.fd), unix.F_SETLEASE, unix.F_RDLCK)
	t.stats.Syscalls++
	if err != nil {
		if len(leases.byFD) == 0 {
			wait = stopWatcher()
		}
		why := ""
		switch err {
		case unix.EAGAIN:
			// fcntl(2): "a read lease can be placed only on a file
			// descriptor that is opened read-only"; another process has
			// the file open for writing.
			why = " (the file is open for writing)"
		case unix.EACCES, unix.EPERM:
			// Only the file's owner (or CAP_LEASE) may take a lease.
			why = " (not the file's owner)"
		case unix.EINVAL:
			// The file system has no lease operation (NFS, FUSE, procfs).
			why = " (the filesystem has no leases)"
		}
		return nil, fmt.Errorf("no lease%s: %w", why, os.NewSyscallError("fcntl F_SETLEASE", err))
	}
	l := &lease{fd: t.fd, holders: map[*leaseHold]struct{}{}}
	h.l = l
	l.holders[h] = struct{}{}
	leases.byFD[t.fd] = l
	// A break that came between F_SETLEASE and now was signalled to a
	// watcher that did not know this lease yet: look once ourselves.
	if l.broken() {
		onBreak()
	}
	t.stats.Syscalls++
	return h, nil
}

// broken reports whether the lease is being broken (or is gone).
// leases.mu is held.
func (l *lease) broken() bool {
	typ, err := unix.FcntlInt(uintptr(l.fd), unix.F_GETLEASE, 0)
	return err != nil || typ != unix.F_RDLCK
}

// release gives this send's share back; the last holder gives the lease
// back (F_UNLCK), which lets a waiting writer go on at once.
func (h *leaseHold) release(t *transfer) {
	wait := func() {}
	defer func() { wait() }()
	leases.mu.Lock()
	defer leases.mu.Unlock()
	l := h.l
	delete(l.holders, h)
	if len(l.holders) > 0 {
		return
	}
	delete(leases.byFD, l.fd)
	unix.FcntlInt(uintptr(l.fd), unix.F_SETLEASE, unix.F_UNLCK)
	t.stats.Syscalls++
	if len(leases.byFD) == 0 {
		wait = stopWatcher()
	}
}

// startWatcher asks for leaseSignal and starts the goroutine that serves
// it. leases.mu is held.
func startWatcher() {
	leases.byFD = make(map[int]*lease)
	leases.sig = make(chan os.Signal, 16)
	leases.stop = make(chan struct{})
	leases.done = make(chan struct{})
	signal.Notify(leases.sig, leaseSignal)
	go watchLeases(leases.sig, leases.stop, leases.done)
}

// stopWatcher gives leaseSignal back and tells the watcher to return.
// leases.mu is held. The returned function waits until the watcher has
// returned, so that no goroutine of ours outlives the last lease; call it
// after unlocking (the watcher takes leases.mu to see that it must stop).
// A watcher started meanwhile for a new lease has channels of its own.
func stopWatcher() (wait func()) {
	signal.Stop(leases.sig)
	close(leases.stop)
	done := leases.done
	leases.byFD, leases.sig, leases.stop, leases.done = nil, nil, nil, nil
	return func() { <-done }
}

func watchLeases(sig <-chan os.Signal, stop, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-sig:
		}
		leases.mu.Lock()
		select {
		case <-stop:
			leases.mu.Unlock()
			return
		default:
		}
		for _, l := range leases.byFD {
			if l.broken() {
				for h := range l.holders {
					h.onBreak()
				}
			}
		}
		leases.mu.Unlock()
	}
}
