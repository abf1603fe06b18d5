// Package zerocopy moves file data between regular files and stream sockets
// with as few copies, system calls and context switches as the kernel allows.
//
// SendFile moves a byte range of a file to a socket (or any writer) by one of
// several methods: ReadWrite (pread into a user buffer, then write), MMap
// (write straight from a mapping of the file), Sendfile and Splice (the data
// never enters user space). ReceiveFile moves bytes from a socket into a file
// by ReadWrite or Splice (socket -> pipe -> file). Auto picks the best method
// the platform offers and falls back when the kernel refuses it.
//
// # Design invariants
//
// Any change to this package must keep these:
//
//   - System calls are issued by the package itself through syscall.RawConn,
//     so EAGAIN parks the goroutine on Go's netpoller rather than a thread, and
//     the connection's deadlines and the caller's context both apply.
//   - A fast path either moves data or reports "not handled" having moved
//     nothing; only then may Auto fall back to the next method. After partial
//     progress an error is an error. Stats.Method always names the method that
//     actually moved the body.
//   - Each send call is bounded (SendOptions.ChunkSize), and exactly the bytes
//     that remain are asked for: never a large "to EOF" count on a regular file.
//   - A regular file's size is taken once, at the start. A send that moves
//     fewer bytes than asked, because the file shrank or a mapping faulted,
//     returns an error matching ErrTruncated (ErrLeaseBroken when a writer
//     broke a lease asked for), never a short success and never a crash.
//   - Nothing the package does makes another process's use of the file wait
//     or fail, unless the caller asked for a lease.
//   - Once ctx is done no body byte moves: the loops check it before every
//     call that moves data and before every wait, whatever the caller does
//     to the connection's deadline meanwhile.
//   - Every resource taken during a send (lease, cork, pipe, mapping) is given
//     back on every path, errors included, when the call returns; see
//     "Process-wide state" for the little that outlives a call.
//   - Errors are *Error values naming the operation, file and method; the
//     errno each path handles is commented with the man page or issue that
//     explains it.
//
// # System calls and the Go scheduler
//
// A system call made the usual way (syscall.Syscall, and so the os and net
// packages) tells the Go scheduler it may block, and when the process was
// idle that wakes the runtime's monitor thread, once for every wait for
// the socket buffer to drain. So on Linux a sendfile call that cannot
// sleep, because the socket is non-blocking and cachestat(2) found every
// page it reads in the page cache, is issued as a raw system call, which
// keeps its P; Stats.RawSyscalls counts them. Only files on local disk and
// memory file systems qualify, at most one raw call runs in the process at
// a time, and none when GOMAXPROCS is 1, so a raw call that sleeps after
// all (memory reclaim, a locked page) holds one P, never every one. A
// transfer that meets a page not in the cache, a blocking socket, another
// file system or a kernel without cachestat (before 6.5) uses ordinary
// calls throughout. The README gives what this saves, measured.
//
// # Writers, truncation and leases
//
// SendFile reads the file as it is. Another process may append to it,
// rewrite it or truncate it meanwhile, and by default nothing zcopy does
// makes that process wait or fail. A send goes on while every byte it
// announced exists: appended bytes are not sent (the size was taken at the
// start), and only a truncation that removes announced bytes ends it, as
// ErrTruncated, never as a short success and never as a crash: sendfile
// and splice return short counts, write(2) from a vanished mapping returns
// EFAULT, and a user-space touch of a vanished page (when the destination
// is not a file descriptor) is turned into a recoverable fault with
// runtime/debug.SetPanicOnFault. Bytes rewritten in place during a send
// may arrive old or new; a caller that must not pass such a mix for the
// file compares the file's size and modification time (fstat) before
// and after the send, or hashes the file afterwards, as zcopy send
// does.
//
// SendOptions.Lease asks instead for a read lease (Linux, fcntl(2)
// F_SETLEASE with F_RDLCK, announced by a real-time signal chosen with
// F_SETSIG). The kernel then tells the holder of any open for writing or
// truncate before it happens, and SendFile stops with ErrLeaseBroken and
// releases the lease at once. That is the only way to be sure, before the
// fact, that no byte sent was written meanwhile; its price is paid by the
// writer, which is why it is not the default (nginx takes no lease
// either): a blocking open or truncate(2) of the file waits until the
// lease is given back (milliseconds; up to /proc/sys/fs/lease-break-time,
// 45 s, if the holder is stuck), an open with O_NONBLOCK (coreutils
// truncate, some daemons) fails with EAGAIN, and a process that only
// appends cuts every download of the file. Take a lease where a copy that
// may mix versions is worse than disturbing writers, and writers are
// yours. Where the kernel refuses a lease (the file is open for writing
// elsewhere, another owner, a filesystem without leases) the send goes on
// without one and Stats.LeaseNote says why.
//
// # Process-wide state
//
// The package keeps three things beyond a call, all internal:
//   - a pool of empty splice pipes (Linux; two descriptors each), as the
//     standard library's internal/poll keeps for its own splice; a pipe
//     that a failed transfer leaves holding data is closed at once;
//   - while at least one lease is held, a handler for signal 38
//     (os/signal.Notify) and one goroutine that serves it; both are given
//     back when the last lease is released. A program that uses signal 38
//     itself should not ask for leases;
//   - the slot that admits one raw sendfile at a time.
//
// # Platforms
//
// Linux has every method. Darwin and FreeBSD have Sendfile, MMap and
// ReadWrite, and cork with TCP_NOPUSH. Windows, and any other system, has
// ReadWrite only. Asking for a method the platform lacks returns an error
// matching errors.ErrUnsupported; Auto only picks methods that exist.
package zerocopy
