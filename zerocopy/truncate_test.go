package zerocopy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

// truncateElsewhere truncates path to size from another process (this test
// binary re-executed) and reports how long truncate(2) blocked there.
func truncateElsewhere(t *testing.T, path string, size int64) <-chan time.Duration {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "ZCOPY_TEST_TRUNCATE="+path+":"+strconv.FormatInt(size, 10))
	cmd.Stderr = os.Stderr
	ch := make(chan time.Duration, 1)
	go func() {
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("truncating process: %v", err)
		}
		ns, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		ch <- time.Duration(ns)
	}()
	return ch
}

// TestTruncatedDuringSend truncates the source to half while every method
// is sending it to a receiver that has stopped reading, with and without a
// lease. The send must report ErrTruncated (ErrLeaseBroken with a lease)
// with fewer bytes than the file had, never succeed and never crash; with
// a lease, the truncating process
// must be let go by the sender, not by the kernel's lease-break-time (45 s
// by default) running out. Giving the lease back takes milliseconds, so the
// verdict does not depend on the machine's speed.
func TestTruncatedDuringSend(t *testing.T) {
	const size = 48 << 20
	for _, m := range SendMethods() {
		for _, lease := range []bool{true, false} {
			name := m.String() + "/lease"
			if !lease {
				name = m.String() + "/no-lease"
			}
			t.Run(name, func(t *testing.T) {
				path, data := makeFile(t, size)
				f := openFile(t, path)
				c, s := tcpPair(t)
				// The receiver reads nothing until the file is truncated, so
				// the sender parks on a full socket buffer well before half
				// the file.
				release := make(chan struct{})
				got := make(chan []byte, 1)
				go func() {
					<-release
					b, _ := io.ReadAll(s)
					got <- b
				}()
				var progress int64
				sent := make(chan struct{})
				var once bool
				opts := &SendOptions{Method: m, Lease: lease, ChunkSize: 1 << 20, Progress: func(n int64) {
					progress = n
					if n > 2<<20 && !once {
						once = true
						close(sent)
					}
				}}
				type result struct {
					st  Stats
					err error
				}
				res := make(chan result, 1)
				go func() {
					st, err := SendFile(context.Background(), c, f, 0, -1, opts)
					c.Close()
					res <- result{st, err}
				}()
				<-sent
				time.Sleep(50 * time.Millisecond) // let the sender fill the socket
				took := truncateElsewhere(t, path, size/2)
				if !lease {
					// Without a lease nothing stops the sender until it
					// reaches the missing bytes: let the receiver read once
					// the truncation is done.
					<-took
					close(release)
				}
				r := <-res
				if lease {
					d := <-took
					t.Logf("the truncating process waited %v for the lease", d)
					if limit, ok := testbin.LeaseBreakTime(); ok && d >= limit-time.Second {
						t.Errorf("truncate(2) took %v with a lease held, the kernel's whole lease-break-time (%v): the sender did not give its lease back, the kernel broke it", d, limit)
					}
					close(release)
				}
				b := <-got
				t.Logf("sent %d bytes (progress %d), err: %v, stats %+v", r.st.Bytes, progress, r.err, r.st)
				want := ErrTruncated
				if lease {
					want = ErrLeaseBroken
				}
				if !errors.Is(r.err, want) {
					t.Fatalf("err = %v, want %v", r.err, want)
				}
				if r.st.Lease != lease {
					t.Errorf("Stats.Lease = %v with Lease = %v (%s)", r.st.Lease, lease, r.st.LeaseNote)
				}
				if r.st.Bytes >= size || int64(len(b)) >= size {
					t.Errorf("sent %d, received %d of %d bytes: a truncated file passed for whole", r.st.Bytes, len(b), size)
				}
				if !bytes.Equal(b, data[:min(len(b), len(data))]) {
					t.Errorf("the %d bytes received are not the file's first bytes", len(b))
				}
			})
		}
	}
}

// TestMappingFault makes a peer without a descriptor touch pages of a
// mapping that vanished (the file was truncated under it): the fault must
// become ErrTruncated, not a SIGBUS that kills the process.
func TestMappingFault(t *testing.T) {
	path, _ := makeFile(t, 8<<20)
	f := openFile(t, path)
	w := &truncatingWriter{path: path}
	st, err := SendFile(context.Background(), w, f, 0, -1, &SendOptions{Method: MMap})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	if !w.truncated {
		t.Fatal("the writer never truncated the file")
	}
	t.Logf("%v; stats %+v", err, st)
}

// truncatingWriter truncates the file on its first Write and then reads
// every byte it was given, as a TLS writer encrypting them would.
type truncatingWriter struct {
	path      string
	truncated bool
	sum       byte
}

func (w *truncatingWriter) Write(p []byte) (int, error) {
	if !w.truncated {
		w.truncated = true
		if err := os.Truncate(w.path, 0); err != nil {
			return 0, err
		}
	}
	for _, b := range p {
		w.sum += b
	}
	return len(p), nil
}
