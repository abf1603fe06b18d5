//go:build unix

package zerocopy

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStreamSources sends from sources that cannot seek or have no size:
// a pipe (os.Pipe, non-blocking and on the poller, as `zcopy send -` gets
// stdin from a shell pipeline), a FIFO opened by name, the same pipe
// reopened through /dev/fd, a Unix socket, and a character device with a
// length. Auto must fall back from any fast path the kernel refuses before
// a byte moved, and wait on the poller when the source is empty for now.
// The writer sends half, waits until the receiver has it, then the rest:
// so the sender finds the source empty and must wait, not fail with EAGAIN.
// Issue 13: `printf data | zcopy send --raw ... /dev/stdin` failed with
// ESPIPE from sendfile and EAGAIN from read.
func TestStreamSources(t *testing.T) {
	data := bytes.Repeat([]byte("stream source "), 40000) // 560,000 bytes
	half := len(data) / 2
	sources := []struct {
		name string
		open func(t *testing.T) (src *os.File, feed io.WriteCloser)
	}{
		{"pipe", func(t *testing.T) (*os.File, io.WriteCloser) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r, w
		}},
		{"fifo", func(t *testing.T) (*os.File, io.WriteCloser) {
			path := filepath.Join(t.TempDir(), "fifo")
			if err := unix.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			wc := make(chan *os.File, 1)
			go func() {
				w, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
				}
				wc <- w
			}()
			r := openFile(t, path)
			return r, <-wc
		}},
		{"dev-fd", func(t *testing.T) (*os.File, io.WriteCloser) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			return openFile(t, "/dev/fd/"+strconv.Itoa(int(r.Fd()))), w
		}},
		{"unix-socket", func(t *testing.T) (*os.File, io.WriteCloser) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			// net.FileConn duplicates the descriptor; the *os.File is
			// closed through itself, never by number, or its finalizer
			// would close the number again once another test reuses it.
			f := os.NewFile(uintptr(fds[1]), "feed")
			w, err := net.FileConn(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			unix.SetNonblock(fds[0], true)
			r := os.NewFile(uintptr(fds[0]), "socket")
			t.Cleanup(func() { r.Close() })
			return r, w.(*net.UnixConn)
		}},
	}
	for _, s := range sources {
		for _, m := range []Method{Auto, ReadWrite} {
			t.Run(s.name+"/"+m.String(), func(t *testing.T) {
				src, feed := s.open(t)
				c, peer := tcpPair(t)
				got := readAllAsync(peer)
				arrived := make(chan struct{})
				var once sync.Once
				go func() {
					defer feed.Close()
					if _, err := feed.Write(data[:half]); err != nil {
						t.Error(err)
						return
					}
					<-arrived
					if _, err := feed.Write(data[half:]); err != nil {
						t.Error(err)
					}
				}()
				opts := &SendOptions{Method: m, Progress: func(n int64) {
					if n >= int64(half) {
						once.Do(func() { close(arrived) })
					}
				}}
				st, err := SendFile(context.Background(), c, src, 0, -1, opts)
				c.Close()
				if err != nil {
					t.Fatalf("%v (stats %+v)", err, st)
				}
				if b := <-got; !bytes.Equal(b, data) {
					t.Fatalf("received %d bytes, want %d", len(b), len(data))
				}
				if st.Method != ReadWrite {
					t.Errorf("moved by %v, want readwrite", st.Method)
				}
				t.Logf("%+v", st)
			})
		}
	}
	t.Run("char-device", func(t *testing.T) {
		c, peer := tcpPair(t)
		got := readAllAsync(peer)
		const n = 3 << 20
		st, err := SendFile(context.Background(), c, openFile(t, "/dev/zero"), 0, n, nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b := <-got; len(b) != n || !bytes.Equal(b, make([]byte, n)) {
			t.Fatalf("received %d bytes of /dev/zero, want %d zeros", len(b), n)
		}
		t.Logf("%+v", st)
	})
}
