//go:build unix

package zerocopy

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// cachedConn is a connection whose RawConn was taken once, as a server
// that sends many responses on one connection keeps it.
type cachedConn struct {
	net.Conn
	rc syscall.RawConn
}

func (c *cachedConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// TestSendAllocations: a send's bookkeeping comes from a pool, and a send of
// a small file (gathered with its header, one write), given the file's
// stat, reads it by ReadAt without taking its RawConn (which os.File makes
// anew at every call), so it allocates nothing. A server answering tens
// of thousands of small requests a second pays each allocation in every
// one of them (issue 17). Without the stat it goes the general way (send),
// which takes the RawConn. (A sendfile send, of a file larger than
// GatherMax, still makes about ten: its closures and the cork's, once per
// response of at least 64 KiB.)
func TestSendAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		size int
		max  float64
	}{
		{"gathered-4KiB", 4 << 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, make([]byte, tc.size), 0o644); err != nil {
				t.Fatal(err)
			}
			f := openFile(t, path)
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			c, peer := tcpPair(t)
			go io.Copy(io.Discard, peer)
			rc, err := c.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			dst := &cachedConn{Conn: c, rc: rc}
			opts := &SendOptions{Header: []byte("HTTP/1.1 200 OK\r\n\r\n"), Info: fi}
			var failed error
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := SendFile(context.Background(), dst, f, 0, -1, opts); err != nil {
					failed = err
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs > tc.max {
				t.Errorf("%.1f allocations a send, want at most %.0f", allocs, tc.max)
			}
		})
	}
}
