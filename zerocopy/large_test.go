package zerocopy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestLargeSparseFile sends a 5 GiB sparse file by every method. Random
// markers sit across the 2 GiB and 4 GiB boundaries, at Linux's per-call
// cap (0x7ffff000) and at the end, so a wrong offset or a lost piece shows.
// The receiver compares every byte with the file. ChunkSize asks for more
// than one call may move, to exercise the clamp.
func TestLargeSparseFile(t *testing.T) {
	if testing.Short() {
		t.Skip("5 GiB transfers in -short mode")
	}
	const size = 5 << 30
	path := filepath.Join(t.TempDir(), "sparse.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, off := range []int64{0, MaxChunkSize - 1000, 2<<30 - 2048, 4<<30 - 100, size - 4096} {
		b := make([]byte, 4096)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	for _, m := range SendMethods() {
		t.Run(m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			errc := make(chan error, 1)
			go func() { errc <- compareStream(s, path, size) }()
			st, err := SendFile(context.Background(), c, openFile(t, path), 0, -1, &SendOptions{Method: m, ChunkSize: 1 << 62})
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if st.Bytes != size || st.Method != m {
				t.Fatalf("stats %+v, want %d bytes by %v", st, int64(size), m)
			}
			t.Logf("%v: %d bytes in %v, %d system calls", m, st.Bytes, st.Duration, st.Syscalls)
		})
	}
}

// compareStream reads c to EOF and checks it against the file at path.
func compareStream(c net.Conn, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	got := make([]byte, 1<<20)
	want := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(c, got)
		if n > 0 {
			if _, err := f.ReadAt(want[:n], off); err != nil {
				return fmt.Errorf("read file at %d: %v", off, err)
			}
			if !bytes.Equal(got[:n], want[:n]) {
				return fmt.Errorf("bytes differ in the %d bytes at offset %d", n, off)
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if off != size {
		return fmt.Errorf("received %d bytes, want %d", off, size)
	}
	return nil
}
