package zerocopy

import (
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every system call made through syscall.Syscall (and x/sys/unix, and the
// os and net packages) tells the Go scheduler that the goroutine may block
// (runtime.entersyscall). When the process was idle just before, that wakes
// the runtime's monitor thread (sysmon), which then polls every 20 us until
// the process is idle again. A large download over a fast socket is exactly
// that pattern: the sender parks on the netpoller whenever the socket buffer
// is full and calls sendfile when it drains, a few hundred times a GiB. The
// README ("Raw sendfile") gives what that cost and what the raw calls save,
// as measured by zcopy bench.
//
// A sendfile(2) that cannot sleep need not tell the scheduler: the socket is
// non-blocking (a full buffer returns EAGAIN rather than waiting) and every
// page it will read is in the page cache (no disk read). Such calls go out as
// raw system calls, which keep the goroutine's P for their duration instead
// of offering it to other goroutines, as a Go function running that long
// would. (Go issue 29734 discusses the runtime side.)
//
// "Cannot sleep" is a judgement, not a guarantee: a cached page may be
// locked by a writer, memory reclaim may run inside the call, and a network
// or FUSE file system may go to its server even for cached pages. So the
// risk is bounded three ways:
//   - only files on local disk and memory file systems (rawFS) qualify;
//   - at most one raw call runs in the process at a time (rawBusy), and
//     none when GOMAXPROCS is 1, so a raw call that does sleep holds one P
//     and never all of them: other goroutines run on the rest;
//   - each call moves at most one chunk (SendOptions.ChunkSize).
// TestRawSendfileHoldsOneP makes a raw call stall and shows the rest of the
// program running meanwhile. Everything else, a cold file included, goes
// through the scheduler as usual.

// rawBusy is set while a raw sendfile runs in this process: the one slot
// that bounds how many Ps raw calls can hold at once. It is the package's
// only process-wide state besides the pipe pool and the lease watcher.
var rawBusy atomic.Bool

// testHookRawSendfile, if set, is called just before each raw sendfile,
// with the slot held.
var testHookRawSendfile func()

// testHookNoSleepCheck, if set, is called with the name of each system
// call noSleep makes to judge a sendfile ("fstatfs", "fcntl", "cachestat").
var testHookNoSleepCheck func(call string)

// rawFS lists the file systems (statfs(2) f_type) whose cached pages a
// sendfile reads without leaving the machine or calling out to user
// space: ext2/3/4, XFS, Btrfs, F2FS and tmpfs. NFS, SMB, FUSE, 9p, Ceph and
// overlayfs (whose reads go to another file system) are not among them.
var rawFS = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:  true,
	unix.XFS_SUPER_MAGIC:   true,
	unix.BTRFS_SUPER_MAGIC: true,
	unix.F2FS_SUPER_MAGIC:  true,
	unix.TMPFS_MAGIC:       true,
}

// rawFileSystem reports whether the file behind fd is on a file system in
// rawFS (fstatfs, which does not sleep on these).
func rawFileSystem(fd int) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return false
	}
	return rawFS[int64(st.Type)]
}

// residentWindow is how much of a file one cachestat(2) call vouches for
// ahead of the sender: a 1 GiB body needs 16 of them. A page evicted between
// the check and the sendfile that reads it costs one disk read made without
// releasing the P, like a page fault in Go code.
const residentWindow = 64 << 20

// rawSendfileOK: on 32-bit platforms SYS_SENDFILE takes a 32-bit offset
// (x/sys uses SYS_SENDFILE64 there), so raw calls are made on 64-bit only.
const rawSendfileOK = unsafe.Sizeof(uintptr(0)) == 8

// noCachestat is set once cachestat(2) has failed as unsupported (Linux
// before 6.5, or a seccomp filter that refuses it); raw calls are then off.
var noCachestat atomic.Bool

// pageSize is the unit cachestat counts in.
var pageSize = int64(os.Getpagesize())

// noSleep decides, for one transfer, which sendfile calls cannot sleep.
type noSleep struct {
	fsMode   int8  // 0: not checked, 1: the file is on a rawFS file system, -1: it is not
	sock     int   // the socket sockMode describes
	sockMode int8  // 0: not checked, 1: non-blocking, -1: blocking or unknown
	cold     bool  // a range was found not cached: the file is being read from disk
	from, to int64 // the file range last found wholly in the page cache
	checks   int64 // system calls made to judge (Stats.Syscalls counts them)
}

// check counts one system call made to judge.
func (s *noSleep) check(call string) {
	s.checks++
	if testHookNoSleepCheck != nil {
		testHookNoSleepCheck(call)
	}
}

// sendfile reports whether a sendfile(2) of the bytes [off, off+n) of file
// to sock cannot sleep: sock is non-blocking and the range is in the page
// cache. limit is where the body being sent ends (at most the file's size at
// the start); a range past it is never raw.
func (s *noSleep) sendfile(sock, file int, off, n, limit int64) bool {
	if !rawSendfileOK || n <= 0 || off < 0 || off+n > limit {
		return false
	}
	if s.fsMode == 0 {
		s.fsMode = -1
		s.check("fstatfs")
		if rawFileSystem(file) {
			s.fsMode = 1
		}
	}
	if s.fsMode != 1 {
		return false
	}
	if s.sockMode == 0 || s.sock != sock {
		s.sock, s.sockMode = sock, -1
		s.check("fcntl")
		if fl, err := rawFcntlGetfl(sock); err == nil && fl&unix.O_NONBLOCK != 0 {
			s.sockMode = 1
		}
	}
	if s.sockMode != 1 {
		return false
	}
	if off >= s.from && off+n <= s.to {
		return true
	}
	if s.cold {
		// Once part of the file was found on disk, read-ahead may have pages
		// in flight: cachestat counts a page being read as cached, and a
		// sendfile that meets it waits for the disk.
		return false
	}
	// Vouch for a window ahead when it is cached, else for this call alone.
	end := off + min(max(n, residentWindow), limit-off)
	switch {
	case s.resident(file, off, end-off):
		s.from, s.to = off, end
	case end > off+n && s.resident(file, off, n):
		s.from, s.to = off, off+n
	default:
		s.cold = true
		return false
	}
	return true
}

// resident is the package's resident, counted as a check when it makes
// its system call.
func (s *noSleep) resident(file int, off, n int64) bool {
	if noCachestat.Load() || off < 0 || n <= 0 {
		return false
	}
	s.check("cachestat")
	return resident(file, off, n)
}

// resident reports whether every page of the file's bytes [off, off+n) is
// in the page cache, by cachestat(2) made as a raw call (it does not sleep).
func resident(file int, off, n int64) bool {
	if noCachestat.Load() || off < 0 || n <= 0 {
		return false
	}
	first := off / pageSize
	last := (off + n - 1) / pageSize
	r := unix.CachestatRange{Off: uint64(first * pageSize), Len: uint64((last - first + 1) * pageSize)}
	var cs unix.Cachestat_t
	_, _, e := unix.RawSyscall6(unix.SYS_CACHESTAT, uintptr(file), uintptr(unsafe.Pointer(&r)), uintptr(unsafe.Pointer(&cs)), 0, 0, 0)
	if e != 0 {
		if e == unix.ENOSYS || e == unix.EPERM {
			noCachestat.Store(true)
		}
		return false
	}
	return int64(cs.Cache) == last-first+1
}

// rawFcntlGetfl returns the descriptor's file status flags (F_GETFL, which
// does not sleep).
func rawFcntlGetfl(fd int) (int, error) {
	fl, _, e := unix.RawSyscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETFL, 0)
	if e != 0 {
		return 0, e
	}
	return int(fl), nil
}

// rawSendfile is sendfile(2) as a raw system call, for calls noSleep has
// found cannot sleep. Like unix.Sendfile it returns -1 with the error.
func rawSendfile(sock, file int, off, n int64) (int, error) {
	pos := off
	w, _, e := unix.RawSyscall6(unix.SYS_SENDFILE, uintptr(sock), uintptr(file), uintptr(unsafe.Pointer(&pos)), uintptr(n), 0, 0)
	if e != 0 {
		return -1, syscall.Errno(e)
	}
	return int(w), nil
}
