package cli

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/zcopy/zcopy/internal/bench"
	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/zerocopy"
)

// workerCommand is the hidden subcommand bench re-executes zcopy as, once
// per side of every trial.
const workerCommand = "bench-worker"

func init() {
	register(&command{
		name:     "bench",
		order:    40,
		synopsis: "bench [--size SIZE | --sizes LIST] [--methods LIST] [--recv-method M] [--reps N] [--cold] [--wide | --json] [--plot FILE] [--to ADDR | --serve ADDR]",
		summary:  "measure each method's throughput, CPU, system calls and context switches",
		help: `Bench measures what each send method costs on this machine: it makes a file
of random bytes in a temporary directory, sends it with every method to a
receiver over loopback, sender and receiver each in a process of its own,
and prints a table: throughput, each side's CPU seconds per GiB (from the
kernel's accounting of the finished processes), the sender's system calls
per GiB (counted by the engine) and context switches per GiB (getrusage),
beside the copies of each byte that the textbook model predicts. Under the
table it says what each column means, and ends with a few sentences drawn
from the figures: which method moved the most and which spent the least
CPU, what each saved against readwrite, which method zcopy's auto picks on
this machine, and what that means here. The table fits 100 columns; --wide
adds each side's user/system split, the CPU figures' ranges and the
predicted system calls. It removes the file afterwards.

The rows: readwrite, mmap, sendfile and splice (where the system has
them), and tls, readwrite inside TLS 1.3 as zcopy's framed transfers run by
default, so that the price of encryption is one glance away; its TLS
handshake is timed apart and shown under the table. sendfile and splice
are zero copy; readwrite, mmap and tls are not.

Every method runs --warmup rounds that are thrown away, then --reps rounds
in an order that rotates from round to round; the table shows medians with
the minimum and maximum. Files smaller than 32 MiB are sent several times
per trial over one connection. --sizes sweeps sizes (4KiB,64KiB,1MiB,...)
to show where each method starts to pay. --cold drops the file from the
page cache before every trial (posix_fadvise DONTNEED, Linux). On loopback
the sender and the receiver are each confined to a CPU of their own, as on
two hosts (Linux, two CPUs or more; --no-pin to let the scheduler choose).

Across two hosts, like iperf3: run 'zcopy bench --serve ADDR' on the
receiving host and 'zcopy bench --to ADDR' on the sending one; the report
has both ends' figures. ADDR is host:port (port 1033 if omitted).

--json prints one JSON array, an object per method and size, each key
naming its unit (gb_per_s is gigabytes per second, size_bytes bytes,
*_s_per_gib seconds per GiB). --plot FILE draws throughput, each side's
CPU, and the sender's system calls and context switches per GiB for each
method (lines over size for a sweep) as PNG or SVG, by FILE's extension.
Progress is shown on stderr when it is a terminal.`,
		run: runBench,
	})
	register(&command{
		name:     workerCommand,
		order:    1000,
		synopsis: workerCommand + " (internal)",
		summary:  "internal: one side of one bench trial, run by zcopy bench",
		help:     "Bench-worker is run by zcopy bench as the sender or receiver of one trial. It is not meant to be run by hand.",
		run:      runBenchWorker,
	})
}

func runBench(e *env, args []string) int {
	c := commands["bench"]
	fs := newFlagSet(c.name)
	cfg := bench.DefaultConfig()
	size := bytesize.Value(bench.DefaultSize)
	fs.Var(&size, "size", "the file's `SIZE`")
	sizes := fs.String("sizes", "", "sweep these sizes, a comma-separated `LIST` such as 4KiB,64KiB,1MiB,64MiB,1GiB")
	methods := fs.String("methods", "all", "rows to measure, a comma-separated `LIST` of send methods and tls (readwrite inside TLS 1.3)")
	recvMethod := fs.String("recv-method", cfg.RecvMethod.String(), "the receiver's `method`: readwrite or splice")
	fs.IntVar(&cfg.Reps, "reps", cfg.Reps, "measured rounds per method (`N`)")
	fs.IntVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up rounds per method, not measured (`N`)")
	fs.BoolVar(&cfg.Cold, "cold", false, "drop the file from the page cache before every trial")
	fs.BoolVar(&cfg.NoPin, "no-pin", false, "let the scheduler place sender and receiver (default: one CPU each)")
	asJSON := fs.Bool("json", false, "print a JSON array instead of the table")
	wide := fs.Bool("wide", false, "print the full table (user/system split, ranges, predictions), wider than 100 columns")
	plotFile := fs.String("plot", "", "also draw the results to `FILE` (.png or .svg)")
	fs.StringVar(&cfg.Dir, "dir", "", "make the data file in `DIR` (default: the system's temporary directory)")
	fs.StringVar(&cfg.To, "to", "", "run the receivers on a 'zcopy bench --serve' host at `ADDR`")
	serve := fs.String("serve", "", "serve as the receiving host on `ADDR` for 'zcopy bench --to'")
	oneOff := fs.Bool("one-off", false, "with --serve: exit after the first client")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return usageError(e, c, "unexpected arguments %q", pos)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	exe, err := os.Executable()
	if err != nil {
		return fail(e, c, fmt.Errorf("finding zcopy's executable to run the workers: %w", err))
	}
	command := []string{exe, workerCommand}

	if *serve != "" {
		for _, f := range []string{"to", "size", "sizes", "methods", "recv-method", "reps", "warmup", "cold", "no-pin", "json", "wide", "plot", "dir"} {
			if set[f] {
				return usageError(e, c, "--serve takes no --%s: the client chooses", f)
			}
		}
		err := bench.Serve(e.ctx, bench.ServeConfig{Addr: *serve, Command: command, OneOff: *oneOff, Log: e.stderr})
		if err != nil {
			return fail(e, c, err)
		}
		return exitOK
	}
	if *oneOff {
		return usageError(e, c, "--one-off goes with --serve")
	}

	cfg.Sizes = []int64{int64(size)}
	if *sizes != "" {
		if set["size"] {
			return usageError(e, c, "give --size or --sizes, not both")
		}
		if cfg.Sizes, err = bench.ParseSizes(*sizes); err != nil {
			return usageError(e, c, "--sizes: %v", err)
		}
	}
	if *wide && *asJSON {
		return usageError(e, c, "give --wide or --json, not both")
	}
	if cfg.Methods, err = bench.ParseMethods(*methods); err != nil {
		return usageError(e, c, "--methods: %v", err)
	}
	if cfg.RecvMethod, err = zerocopy.ParseMethod(*recvMethod); err != nil {
		return usageError(e, c, "--recv-method: %v", err)
	}
	cfg.Command = command
	if err := cfg.Validate(); err != nil {
		return usageError(e, c, "%v", err)
	}
	if *plotFile != "" {
		if err := bench.CheckPlotFile(*plotFile); err != nil {
			return usageError(e, c, "--plot: %v", err)
		}
	}
	if f, ok := e.stderr.(*os.File); ok && bench.IsTerminal(f) {
		cfg.Progress = f
	}

	start := time.Now()
	rep, err := bench.Run(e.ctx, cfg)
	if err != nil {
		return fail(e, c, err)
	}
	if *asJSON {
		err = bench.WriteJSON(e.stdout, rep)
	} else {
		err = bench.WriteTable(e.stdout, rep, *wide)
	}
	if err != nil {
		return fail(e, c, err)
	}
	if *plotFile != "" {
		if err := bench.WritePlot(*plotFile, rep); err != nil {
			return fail(e, c, err)
		}
		if cfg.Progress != nil {
			fmt.Fprintf(e.stderr, "zcopy bench: drew %s; %.1f s in all\n", *plotFile, time.Since(start).Seconds())
		}
	}
	return exitOK
}

// runBenchWorker runs one side of one trial; its arguments are bench's own.
func runBenchWorker(e *env, args []string) int {
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
		c := commands[workerCommand]
		fmt.Fprintf(e.stdout, "usage: zcopy %s\n\n%s\n", c.synopsis, c.help)
		return exitOK
	}
	if err := bench.RunWorker(e.ctx, args, e.stdout); err != nil {
		fmt.Fprintf(e.stderr, "zcopy %s: %v\n", workerCommand, err)
		return exitFail
	}
	return exitOK
}
