// Package bench measures what each zerocopy send method costs on the machine
// at hand: throughput, CPU time per GiB on each side, system calls and
// context switches, beside what the seed article's model predicts for the
// method. It is what `zcopy bench` runs.
//
// # How a measurement is made
//
// Each trial runs the sender and the receiver as two separate processes,
// the zcopy binary re-executed as a worker (Config.Command), so that the
// kernel accounts each side's CPU time and context switches apart. The
// parent starts the receiver, which listens and prints its address as a
// JSON line; then the sender, which connects and sends the file over that
// one connection: once for large files, many times for small ones, so that
// a trial is long enough to measure.
// Each worker prints one more JSON line with the engine's figures
// (zerocopy.Stats: bytes, system calls, the method that actually ran) and
// with its own getrusage taken just before the first transfer. When the
// worker has exited, the parent takes the kernel's accounting of the whole
// finished process (wait4, through os.ProcessState.SysUsage) and subtracts
// that snapshot, so process start-up and connection set-up are not charged
// to the method.
//
// The total is exact: the kernel keeps each task's run time to the
// nanosecond. Its split into user and system time is not, where Linux is
// built with tick-based accounting (CONFIG_TICK_CPU_ACCOUNTING, as here and
// in most distributions): at each timer tick the running task is charged a
// tick in the mode it was interrupted in, and getrusage divides the exact
// total in the proportion of those samples. A 512 MiB sendfile or splice
// trial holds some 70-100 samples, and its sender comes out 1-2% user time;
// a trial of a 4 KiB file sent 1,024 times holds 4-7, and one sample more
// or less moves its split by a sixth or more. Issue 19 asked whether the
// split of the splice sender was an accounting error: read beside the raw
// samples (the process CPU clocks CPUCLOCK_VIRT and CPUCLOCK_PROF, taken
// before and after the transfers), the getrusage figures agreed (splice,
// 512 MiB, three trials: 1% user by getrusage, 2% by the samples; 64 MiB,
// ten trials: 2% by both), so bench keeps them and the plots say how the
// split is made.
//
// Throughput is the bytes moved divided by the receiver's wall time from the
// start of its first receive to the end of its last: the data has arrived,
// not merely been queued. The receiver writes to /dev/null so that only the
// network path is measured.
//
// On loopback the sender and the receiver are confined to a CPU each
// (Linux, two CPUs or more), as they would be on two hosts. Left to the
// scheduler they sometimes share one, and then who pays for the receive
// path, and how often the sender finds the socket full, changes from run
// to run: sendfile's system calls per GiB varied threefold that way.
//
// A sweep runs, for each size, Config.Warmup rounds of every method that
// are thrown away, then Config.Reps rounds in which the order of the
// methods rotates, so that drift (a neighbour's load, thermal state, page
// cache) hits every method alike. Figures are reported as the median of
// the repetitions with their minimum and maximum.
//
// # The tls row
//
// Besides the send methods, the table has a row named tls: readwrite
// inside TLS 1.3, as zcopy's framed transfers run by default, so that the
// price of encryption is one glance away. Its receiver makes a throwaway
// certificate (secure.NewCertificate) before it listens; once connected,
// the sender runs secure.Handshake as the client and the receiver as the
// server, and then they make the same zerocopy.SendFile (by Auto, which
// falls to ReadWrite: a TLS connection has no descriptor) and
// zerocopy.ReceiveFile (by ReadWrite, whatever the plain rows' receive
// method) calls over the TLS connection. The handshake is left out of the
// measured region as connection set-up is; its time, from the TCP
// connection set up to the handshake complete at the sender, is reported
// apart. The engine counts each Read or Write on a TLS connection as a
// system call; the worker counts the calls on the TCP connection beneath
// it instead, which are the real ones.
//
// Sendfile and splice are zero copy: the CPU never copies the file's bytes
// through user space. Readwrite, mmap and tls are not; tls copies each
// byte twice more in user space (into a TLS record, into internal/secure's
// batch of records) and encrypts it, and its receiver decrypts it.
//
// # What the report says
//
// WriteTable writes a header (the machines, the file, how it was sent), a
// table that fits TextWidth columns (WriteTable's wide form adds each
// side's user/system split, the CPU figures' ranges and the model's system
// calls), what each column means, and notes. It ends with Conclusions: a
// few sentences computed from the figures, never written in advance, that
// name the row that moved the most and the one that spent the least sender
// CPU, what each row saved in system calls and context switches against
// readwrite, which method zerocopy's Auto ran in a test transfer made
// before the trials (probeAuto), and whether the gain of zero copy showed
// in GB/s or in CPU and system calls. WritePlot draws the same figures,
// with a panel for system calls and context switches, the legend in a
// strip of its own and a caption on how CPU time is split.
//
// # Remote
//
// Serve answers a client started with Config.To, like iperf3's server: over
// one control connection (newline-delimited JSON) the client asks for a
// receiver per trial, the server starts a receiver worker on the address
// the control connection arrived at and sends back its figures when it has
// finished, so the report has both ends' numbers and both hosts'
// descriptions. A server that can run the tls row says so in its greeting;
// against an older one the client leaves the row out and says so. The sender always runs on the client, beside the file.
// Serve talks to several clients at once, dropping one that says nothing,
// but runs their trials one at a time, so that no measurement disturbs
// another.
//
// # The seed's model
//
// Model gives the copies (and how many the CPU does), system calls and
// user/kernel mode switches per GiB that the seed article predicts for each
// method, with the engine's default buffer and chunk sizes. The model's
// "context switches" are mode switches (two per system call); the measured
// ctxsw figures are the scheduler's voluntary and involuntary context
// switches from getrusage, which is what a process actually pays for
// blocking. The table shows only the model's copies ("copies", with those
// made by the CPU in brackets) and, in its wide form, its system calls;
// it leaves the mode switches out, so that "context switches" means one
// thing there.
package bench
