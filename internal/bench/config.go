package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/zerocopy"
)

// Defaults. The default run (every method and tls, one 512 MiB file, one
// warm-up round and five measured rounds) takes 20-30 s on a 2-core VM.
const (
	DefaultSize   = 512 << 20
	DefaultReps   = 5
	DefaultWarmup = 1
	// DefaultPort is the port --serve listens on when ADDR has none: the
	// seed's sfl port.
	DefaultPort = "1033"
)

// Sizes below trialBytes are sent several times per trial, over one
// connection, so that a trial is long enough to measure; never more than
// maxTransfers times.
const (
	trialBytes   = 32 << 20
	maxTransfers = 1024
)

// Config says what to measure and how.
type Config struct {
	// Sizes are the file sizes to measure, in order; each gets a fresh file
	// of random bytes.
	Sizes []int64
	// Methods are the rows to measure, in table order: send methods, and
	// TLSRow.
	Methods []Row
	// RecvMethod is the receiver's method (ReadWrite or Splice) for the
	// plain rows; the TLS row's receiver always reads by ReadWrite, the one
	// method that reads a connection without a descriptor.
	RecvMethod zerocopy.Method
	// Reps is the number of measured rounds, Warmup of rounds thrown away.
	Reps, Warmup int
	// Cold drops the file from the page cache before every trial.
	Cold bool
	// NoPin lets the scheduler place the workers. By default, on loopback
	// with two CPUs or more (Linux), the sender runs on one CPU and the
	// receiver on another, as on two hosts: sharing a CPU changes who pays
	// for the receive path and how often the sender finds the socket full.
	NoPin bool
	// Dir is where the data files are made (the system's temporary
	// directory if empty). They are removed afterwards.
	Dir string
	// To is a Serve address to run the receivers on; empty for loopback.
	To string
	// Command runs a worker when its arguments are appended: typically the
	// zcopy executable and its hidden worker subcommand. Env is added to
	// the workers' environment.
	Command []string
	Env     []string
	// Seed selects the data files' random bytes.
	Seed uint64
	// Timeout bounds how long a worker waits for its peer to connect.
	Timeout time.Duration
	// Progress, if set, receives a one-line progress display redrawn with
	// carriage returns (meant for a terminal).
	Progress io.Writer
}

// DefaultConfig returns the configuration of a bare `zcopy bench`: every
// send method of this platform, and the TLS row, into a ReadWrite receiver
// (which copies into user space as a real receiver does) over loopback.
func DefaultConfig() Config {
	return Config{
		Sizes:      []int64{DefaultSize},
		Methods:    AllRows(),
		RecvMethod: zerocopy.ReadWrite,
		Reps:       DefaultReps,
		Warmup:     DefaultWarmup,
		Seed:       1,
		Timeout:    time.Minute,
	}
}

// Validate reports the first thing wrong with c.
func (c *Config) Validate() error {
	switch {
	case len(c.Sizes) == 0:
		return errors.New("no sizes")
	case len(c.Methods) == 0:
		return errors.New("no methods")
	case c.Reps < 1:
		return errors.New("reps must be at least 1")
	case c.Warmup < 0:
		return errors.New("warm-up rounds cannot be negative")
	case len(c.Command) == 0:
		return errors.New("no worker command")
	case c.Cold && !canDropCache:
		return fmt.Errorf("--cold: dropping a file from the page cache: %w on this system", errors.ErrUnsupported)
	}
	for _, s := range c.Sizes {
		if s < 1 {
			return fmt.Errorf("size %d: must be at least one byte", s)
		}
	}
	for _, r := range c.Methods {
		if r.TLS {
			if r != TLSRow {
				return fmt.Errorf("row %v over TLS: only readwrite runs over TLS", r.Method)
			}
			continue
		}
		if r.Method == zerocopy.Auto || !zerocopy.Supported(r.Method, true) {
			return fmt.Errorf("send method %v: not one of this system's %s", r.Method, rowNames())
		}
	}
	// A remote server checks the receive method itself.
	if c.To == "" && (c.RecvMethod == zerocopy.Auto || !zerocopy.Supported(c.RecvMethod, false)) {
		return fmt.Errorf("receive method %v: not one of this system's %v", c.RecvMethod, zerocopy.ReceiveMethods())
	}
	return nil
}

// transfersFor returns how many times a file of size bytes is sent per
// trial.
func transfersFor(size int64) int {
	n := (trialBytes + size - 1) / size
	return int(max(1, min(n, maxTransfers)))
}

// ParseSizes reads a comma-separated list of sizes such as
// "4KiB,64KiB,1MiB".
func ParseSizes(s string) ([]int64, error) {
	var out []int64
	for f := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := bytesize.Parse(f)
		if err != nil {
			return nil, err
		}
		if n < 1 {
			return nil, fmt.Errorf("size %q: must be at least one byte", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sizes in %q", s)
	}
	return out, nil
}
