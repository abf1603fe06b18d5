package zerocopy

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// movedBy records, through testHookMoved, how many body bytes each system
// call carried during f.
func movedBy(t *testing.T, f func()) map[string]int64 {
	t.Helper()
	by := map[string]int64{}
	testHookMoved = func(call string, n int64) { by[call] += n }
	defer func() { testHookMoved = nil }()
	f()
	return by
}

// TestFastPathAtSyscall proves each method at the system call, not from
// Stats: every body byte must have been carried by the call the method
// names (sendfile by sendfile(2), splice by splice(2), mmap by write(2)
// from a mapping, readwrite by write(2), receives by splice(2) or
// pwrite(2)), and none by another. A broken fast path that fell back
// quietly would pass a test that only checks the bytes that arrived.
func TestFastPathAtSyscall(t *testing.T) {
	const size = 3<<20 + 17
	path, data := makeFile(t, size)
	want := map[Method]string{Auto: "write", ReadWrite: "write", MMap: "write-mapped", Sendfile: "sendfile", Splice: "splice"}
	if haveSendfile {
		want[Auto] = "sendfile"
	}
	for _, m := range append([]Method{Auto}, SendMethods()...) {
		t.Run("send/"+m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			got := readAllAsync(s)
			by := movedBy(t, func() {
				if _, err := SendFile(context.Background(), c, openFile(t, path), 0, -1, &SendOptions{Method: m, ChunkSize: 1 << 20}); err != nil {
					t.Fatal(err)
				}
			})
			c.Close()
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("received %d bytes, want %d", len(b), size)
			}
			if w := map[string]int64{want[m]: size}; !maps.Equal(by, w) {
				t.Errorf("bytes moved by call: %v, want %v", by, w)
			}
		})
	}
	recvWant := map[Method]string{Auto: "pwrite", ReadWrite: "pwrite", Splice: "splice"}
	if haveSplice {
		recvWant[Auto] = "splice"
	}
	for _, m := range append([]Method{Auto}, ReceiveMethods()...) {
		t.Run("receive/"+m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			go func() { c.Write(data); c.Close() }()
			out, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			by := movedBy(t, func() {
				if _, err := ReceiveFile(context.Background(), out, s, 0, size, &ReceiveOptions{Method: m}); err != nil {
					t.Fatal(err)
				}
			})
			if b, _ := os.ReadFile(out.Name()); !bytes.Equal(b, data) {
				t.Fatalf("the file holds %d bytes, want %d", len(b), size)
			}
			if w := map[string]int64{recvWant[m]: size}; !maps.Equal(by, w) {
				t.Errorf("bytes moved by call: %v, want %v", by, w)
			}
		})
	}
}

// recordReader hands out at most 16 KiB per Read, as a *tls.Conn does (one
// record per call), and exposes no descriptor.
type recordReader struct{ r *bytes.Reader }

func (r recordReader) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), 16<<10)]) }

// TestReceiveFillsFromRecordReader: from a peer without a descriptor that
// gives a record per Read, readwrite fills its buffer before it writes,
// so the file gets one pwrite(2) per buffer (16 for 4 MiB in 256 KiB), not
// one per record (256): what an encrypted transfer's receiver pays.
func TestReceiveFillsFromRecordReader(t *testing.T) {
	const size, buf = 4 << 20, 256 << 10
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	dst, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	calls := map[string]int{}
	testHookMoved = func(call string, n int64) { calls[call]++ }
	defer func() { testHookMoved = nil }()
	st, err := ReceiveFile(context.Background(), dst, recordReader{bytes.NewReader(data)}, 0, size, &ReceiveOptions{BufferSize: buf})
	if err != nil || st.Bytes != size {
		t.Fatalf("received %d bytes: %v", st.Bytes, err)
	}
	if want := map[string]int{"pwrite": size / buf}; !maps.Equal(calls, want) {
		t.Errorf("calls that wrote the file: %v, want %v", calls, want)
	}
	got, _ := os.ReadFile(dst.Name())
	if !bytes.Equal(got, data) {
		t.Error("the file differs from what was sent")
	}
}
