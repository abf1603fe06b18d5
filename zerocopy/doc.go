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
//     fewer bytes than asked, because the file shrank, a mapping faulted, or a
//     lease was broken by a writer, returns an error matching ErrTruncated,
//     never a short success and never a crash.
//   - Every resource taken during a send (lease, cork, pipe, mapping) is given
//     back on every path, errors included.
//
// # System calls and the Go scheduler
//
// A system call made the usual way (syscall.Syscall, and so the os and net
// packages) tells the Go scheduler it may block, and when the process was
// idle that wakes the runtime's monitor thread. A large download wakes it
// after every wait for the socket buffer to drain: on loopback that was ~7%
// of the sender's CPU and six times nginx's context switches. So on Linux a
// sendfile call that cannot sleep, because the socket is non-blocking and
// cachestat(2) found every page it reads in the page cache, is issued as a
// raw system call; Stats.RawSyscalls counts them. A transfer that meets a
// page not in the cache, a blocking socket, or a kernel without cachestat
// (before 6.5) uses ordinary calls throughout.
//
// # Truncation and leases
//
// On Linux, SendFile takes a read lease on the source (F_SETLEASE with
// F_RDLCK, announced by a real-time signal chosen with F_SETSIG) for any
// body longer than one chunk, unless SendOptions.NoLease is set. When another process opens the file for writing
// or truncates it, the kernel signals the lease holder and makes the writer
// wait; SendFile then stops, releases the lease at once and returns
// ErrTruncated, so the writer is held for milliseconds rather than the
// kernel's lease-break time (45 s by default). Where the kernel refuses a
// lease (the file is open for writing elsewhere, another owner, a filesystem
// without leases) the send goes on without one and Stats.Lease is false.
//
// Without a lease, truncation still cannot kill the process: sendfile and
// splice return short counts, write(2) from a vanished mapping returns EFAULT,
// and a user-space touch of a vanished page (when the destination is not a
// file descriptor) is turned into a recoverable fault with
// runtime/debug.SetPanicOnFault. All of these become ErrTruncated.
//
// # Platforms
//
// Linux has every method. Darwin and FreeBSD have Sendfile, MMap and
// ReadWrite, and cork with TCP_NOPUSH. Windows, and any other system, has
// ReadWrite only. Asking for a method the platform lacks returns an error
// matching errors.ErrUnsupported; Auto only picks methods that exist.
package zerocopy
