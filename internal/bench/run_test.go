package bench

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/zerocopy"
)

// TestRunEveryMethod runs each send method against each receive method
// with real worker processes on loopback, and checks that each moved the
// whole file by the method asked for, and that both sides' figures came
// back from the kernel and the engine.
func TestRunEveryMethod(t *testing.T) {
	const size = 3<<20 + 123 // not a multiple of any buffer, chunk or page
	for _, recv := range zerocopy.ReceiveMethods() {
		t.Run("recv="+recv.String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Sizes = []int64{size}
			cfg.RecvMethod = recv
			cfg.Reps = 2
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != len(cfg.Methods) {
				t.Fatalf("%d results, want one per method (%d)", len(rep.Results), len(cfg.Methods))
			}
			if !slices.Contains(cfg.Methods, TLSRow) {
				t.Errorf("the default rows %v lack tls", cfg.Methods)
			}
			for i, r := range rep.Results {
				t.Logf("%+v", r)
				row := cfg.Methods[i]
				// The tls row runs readwrite inside TLS, received by readwrite.
				wantRecv := recv
				if row.TLS {
					wantRecv = zerocopy.ReadWrite
				}
				if r.Method != row.String() || r.MethodUsed != row.Method.String() || r.Fallbacks != 0 || r.TLS != row.TLS || r.ZeroCopy != row.ZeroCopy() {
					t.Errorf("result %d: row %s (TLS %v, zero copy %v) ran %s with %d fallbacks (%s), want %v", i, r.Method, r.TLS, r.ZeroCopy, r.MethodUsed, r.Fallbacks, r.FallbackReason, row)
				}
				if r.RecvMethod != wantRecv.String() || r.Size != size || r.Bytes != size || r.Reps != 2 || len(r.Samples) != 2 {
					t.Errorf("%s: recv %s, size %d, bytes %d, reps %d with %d samples", r.Method, r.RecvMethod, r.Size, r.Bytes, r.Reps, len(r.Samples))
				}
				checkHandshake(t, r)
				if r.Transfers != transfersFor(size) {
					t.Errorf("%s: %d transfers, want %d", r.Method, r.Transfers, transfersFor(size))
				}
				if !(r.GBps > 0) || !(r.Syscalls > 0) || !(r.ReceiverSyscalls > 0) {
					t.Errorf("%s: %v GB/s, %v and %v system calls per GiB", r.Method, r.GBps, r.Syscalls, r.ReceiverSyscalls)
				}
				if !r.CPUKnown || !(r.SenderCPU > 0) || !(r.ReceiverCPU > 0) {
					t.Errorf("%s: CPU known %v, sender %v, receiver %v s/GiB", r.Method, r.CPUKnown, r.SenderCPU, r.ReceiverCPU)
				}
				if runtime.GOOS == "linux" {
					if !r.CtxswKnown || !(r.Ctxsw >= 0) {
						t.Errorf("%s: context switches known %v, %v", r.Method, r.CtxswKnown, r.Ctxsw)
					}
					// The engine leases only bodies longer than one chunk.
					if wantLease := r.Size > zerocopy.DefaultChunkSize; r.Lease != wantLease {
						t.Errorf("%s: lease %v for %d bytes, want %v", r.Method, r.Lease, r.Size, wantLease)
					}
					if r.Cached < 0.99 {
						t.Errorf("%s: %.2f of the file was cached, want all of it", r.Method, r.Cached)
					}
				}
			}
			if rep.Sender.Cores < 1 || rep.Sender.OS == "" || rep.Receiver != rep.Sender && rep.Link == "loopback" {
				t.Errorf("hosts: sender %+v, receiver %+v", rep.Sender, rep.Receiver)
			}
			if runtime.GOOS == "linux" && runtime.NumCPU() >= 2 && rep.Pinned == "" {
				t.Error("the workers were not pinned to CPUs")
			}
		})
	}
}

// checkHandshake checks that a TLS row has a handshake time in every
// sample and its summary, and a plain row none.
func checkHandshake(t *testing.T, r Result) {
	t.Helper()
	for _, smp := range r.Samples {
		if r.TLS != (smp.HandshakeMs > 0) {
			t.Errorf("%s: a sample's handshake took %v ms", r.Method, smp.HandshakeMs)
		}
	}
	if r.TLS != (r.HandshakeMs > 0) || !(r.HandshakeMsMin <= r.HandshakeMs && r.HandshakeMs <= r.HandshakeMsMax) {
		t.Errorf("%s: handshake %v ms (%v-%v)", r.Method, r.HandshakeMs, r.HandshakeMsMin, r.HandshakeMsMax)
	}
}

// TestRunTLS runs the tls row alone at sizes that straddle TLS records and
// the engine's buffer: a small file sent many times over one TLS
// connection (records then hold the end of one transfer and the start of
// the next), one of a few records, and a few buffers' worth. Each moved
// every byte, by readwrite, inside TLS, and the sender's system calls are
// those beneath TLS: the model's pread and batched writes per buffer.
func TestRunTLS(t *testing.T) {
	cfg := testConfig(t)
	cfg.Methods = []Row{TLSRow}
	cfg.RecvMethod = zerocopy.ReceiveMethods()[len(zerocopy.ReceiveMethods())-1] // splice where there is: tls must not use it
	sizes := []int64{1000, 100000, 2<<20 + 7}
	cfg.Sizes = sizes
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(sizes) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(sizes))
	}
	model := ModelRow(TLSRow, false)
	for i, r := range rep.Results {
		t.Logf("%s %d B x %d: %.2f GB/s, handshake %.2f ms, %.0f and %.0f syscalls/GiB (model %.0f)", r.Method, r.Size, r.Transfers, r.GBps, r.HandshakeMs, r.Syscalls, r.ReceiverSyscalls, model.SyscallsPerGiB)
		if r.Method != "tls" || r.MethodUsed != "readwrite" || r.RecvMethod != "readwrite" || !r.TLS || r.ZeroCopy {
			t.Errorf("%d B: row %q ran %q into %q, TLS %v, zero copy %v", r.Size, r.Method, r.MethodUsed, r.RecvMethod, r.TLS, r.ZeroCopy)
		}
		if r.Size != sizes[i] || r.Bytes != sizes[i] || r.Transfers != transfersFor(sizes[i]) {
			t.Errorf("%d B: %d transfers of %d bytes, want %d", sizes[i], r.Transfers, r.Bytes, transfersFor(sizes[i]))
		}
		if !(r.GBps > 0) || !(r.ReceiverSyscalls > 0) {
			t.Errorf("%d B: %v GB/s, %v receiver system calls per GiB", r.Size, r.GBps, r.ReceiverSyscalls)
		}
		checkHandshake(t, r)
	}
	// A few buffers: per buffer a pread and the batches' writes, plus an
	// fstat per transfer and the close_notify's write.
	big := rep.Results[len(sizes)-1]
	if ratio := big.Syscalls / model.SyscallsPerGiB; ratio < 0.9 || ratio > 1.3 {
		t.Errorf("the sender made %.0f system calls per GiB, %.2f of the model's %.0f", big.Syscalls, ratio, model.SyscallsPerGiB)
	}
}

// TestRunCleansUp checks that Run removes its data files and directory.
func TestRunCleansUp(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sizes = []int64{4096, 100000}
	cfg.Methods = []Row{{Method: zerocopy.ReadWrite}}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	left, err := os.ReadDir(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("Run left %v in %s", left, cfg.Dir)
	}
}

// TestRunCold checks --cold: the file must be out of the page cache when
// each trial starts, as mincore sees it.
func TestRunCold(t *testing.T) {
	need(t, canDropCache, "a system where posix_fadvise can drop a file's pages (Linux)")
	for _, cold := range []bool{false, true} {
		cfg := testConfig(t)
		cfg.Sizes = []int64{8 << 20}
		cfg.Methods = []Row{{Method: zerocopy.Sendfile}}
		cfg.Cold = cold
		cfg.Reps = 2
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Results[0].Samples {
			if cold && s.Cached > 0.01 || !cold && s.Cached < 0.99 {
				t.Errorf("cold=%v: %.3f of the file was in the page cache before a trial", cold, s.Cached)
			}
		}
		if !rep.Cold == cold || rep.Results[0].Cold != cold {
			t.Errorf("cold=%v: the report says %v", cold, rep.Cold)
		}
	}
}

// TestRunWorkerFailure checks that a worker that fails makes Run fail with
// its message, promptly, rather than hang on the other side.
func TestRunWorkerFailure(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sizes = []int64{1 << 20}
	cfg.Methods = []Row{{Method: zerocopy.Sendfile}}
	cfg.Command = []string{zcopyBin, "bench-worker", "--bogus"}
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("Run = %v, want the worker's complaint", err)
	}
	cfg.Command = []string{"/nonexistent/zcopy"}
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Fatal("Run with a missing worker binary succeeded")
	}
}

// TestRunCancel checks that cancelling the context ends a run and its
// workers.
func TestRunCancel(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sizes = []int64{64 << 20}
	cfg.Reps = 50
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Progress = progressFunc(func(string) { cancel() })
	_, err := Run(ctx, cfg)
	if err == nil {
		t.Fatal("a cancelled run succeeded")
	}
}

// progressFunc is an io.Writer that calls f with what it is given.
type progressFunc func(string)

func (f progressFunc) Write(p []byte) (int, error) { f(string(p)); return len(p), nil }
