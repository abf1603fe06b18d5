package zerocopy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/zcopy/zcopy/internal/testbin"
)

// appendElsewhere appends a line to path from another process (this test
// binary re-executed) by mode (see appendHelper) and returns its error.
func appendElsewhere(t *testing.T, mode, path string) error {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "ZCOPY_TEST_APPEND="+mode+":"+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(string(bytes.TrimSpace(out)))
	}
	return nil
}

// heldSend starts SendFile of the whole of f to a receiver that reads
// nothing until release is closed, and returns once the send has moved
// 2 MiB (it then soon parks on the full socket buffer). The result and
// the bytes received arrive on the returned channels.
func heldSend(t *testing.T, f *os.File, opts *SendOptions) (release chan struct{}, res <-chan sendResult, got <-chan []byte) {
	t.Helper()
	c, s := tcpPair(t)
	release = make(chan struct{})
	gotc := make(chan []byte, 1)
	go func() {
		<-release
		b, _ := io.ReadAll(s)
		gotc <- b
	}()
	moved := make(chan struct{})
	var once sync.Once
	o := *opts
	o.ChunkSize = 1 << 20
	o.Progress = func(n int64) {
		if n >= 2<<20 {
			once.Do(func() { close(moved) })
		}
	}
	resc := make(chan sendResult, 1)
	go func() {
		st, err := SendFile(context.Background(), c, f, 0, -1, &o)
		c.Close()
		resc <- sendResult{st, err}
	}()
	select {
	case <-moved:
	case r := <-resc:
		t.Fatalf("the send ended before it moved 2 MiB: %v", r.err)
	}
	return release, resc, gotc
}

type sendResult struct {
	st  Stats
	err error
}

// TestWriterDuringSend appends to a file from another process while every
// method sends it, with the default options: the writer must not fail or
// wait because of the send (a lease would make a blocking open wait and an
// O_NONBLOCK open fail with EAGAIN), and the send must deliver every byte
// it announced, since appending removes none. Issue 13: a 48 MiB log was
// cut at ~12 MB by a line appended to it, where nginx delivered it whole.
func TestWriterDuringSend(t *testing.T) {
	const size = 48 << 20
	for _, mode := range []string{"append", "append-nonblock"} {
		for _, m := range SendMethods() {
			t.Run(mode+"/"+m.String(), func(t *testing.T) {
				path, data := makeFile(t, size)
				f := openFile(t, path)
				release, res, got := heldSend(t, f, &SendOptions{Method: m})
				// The receiver reads nothing until the writer is done: the
				// writer's open and write happen while the send is parked
				// mid-file.
				werr := appendElsewhere(t, mode, path)
				close(release)
				r := <-res
				b := <-got
				if werr != nil {
					t.Errorf("the writer failed while the file was being sent: %v", werr)
				}
				if r.err != nil {
					t.Fatalf("the send failed after a writer appended: %v (stats %+v)", r.err, r.st)
				}
				if r.st.Bytes != size || !bytes.Equal(b, data) {
					t.Errorf("sent %d, received %d bytes (equal to the file as it was: %v); want all %d", r.st.Bytes, len(b), bytes.Equal(b, data), size)
				}
			})
		}
	}
}

// TestSharedFileLease runs two sends with SendOptions.Lease on one
// *os.File at once. A lease belongs to the open file, not to a send: the
// first send to finish must leave it held for the other, which must still
// see a truncation as a broken lease, and the last one out must give it
// back. Issue 13: the first to finish released it, and the survivor later
// failed with a false ErrTruncated while its Stats.Lease said true.
func TestSharedFileLease(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	const size = 32 << 20
	path, data := makeFile(t, size)
	f := openFile(t, path)
	getLease := func() int {
		typ, err := unix.FcntlInt(f.Fd(), unix.F_GETLEASE, 0)
		if err != nil {
			t.Fatal(err)
		}
		return typ
	}
	release1, res1, got1 := heldSend(t, f, &SendOptions{Method: Sendfile, Lease: true})
	release2, res2, got2 := heldSend(t, f, &SendOptions{Method: Sendfile, Lease: true})
	close(release1)
	r1 := <-res1
	if r1.err != nil || !r1.st.Lease || !bytes.Equal(<-got1, data) {
		t.Fatalf("first send: %v, lease %v (%s)", r1.err, r1.st.Lease, r1.st.LeaseNote)
	}
	if typ := getLease(); typ != unix.F_RDLCK {
		t.Fatalf("after the first send finished, F_GETLEASE = %d, want F_RDLCK (%d): the survivor's lease is gone", typ, unix.F_RDLCK)
	}
	took := truncateElsewhere(t, path, size/2)
	r2 := <-res2
	d := <-took
	if !errors.Is(r2.err, ErrLeaseBroken) || !r2.st.Lease {
		t.Errorf("second send: %v, lease %v; want ErrLeaseBroken with the lease held", r2.err, r2.st.Lease)
	}
	if limit, ok := testbin.LeaseBreakTime(); ok && d >= limit-time.Second {
		t.Errorf("truncate(2) waited %v, the whole lease-break-time (%v)", d, limit)
	}
	close(release2)
	if b := <-got2; len(b) >= size {
		t.Errorf("the second receiver got all %d bytes of a truncated file", len(b))
	}
	if typ := getLease(); typ != unix.F_UNLCK {
		t.Errorf("after both sends, F_GETLEASE = %d, want F_UNLCK: a lease outlived its sends", typ)
	}
}

// TestLeaseWatcherStops checks that the lease machinery is the library's
// only while a lease is held: after a send with a lease, no goroutine of
// the package is left (goleak), and a later send asks for the signal
// anew and still sees a writer.
func TestLeaseWatcherStops(t *testing.T) {
	path, data := makeFile(t, 8<<20)
	for i := range 2 {
		f := openFile(t, path)
		c, s := tcpPair(t)
		got := readAllAsync(s)
		st, err := SendFile(context.Background(), c, f, 0, -1, &SendOptions{Lease: true})
		c.Close()
		if err != nil || !st.Lease || !bytes.Equal(<-got, data) {
			t.Fatalf("send %d: %v, lease %v (%s)", i, err, st.Lease, st.LeaseNote)
		}
		goleak.VerifyNone(t, leakOpts...)
	}
}
