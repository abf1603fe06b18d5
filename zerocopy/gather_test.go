//go:build unix

package zerocopy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestGatheredTruncated: a small file that shrank after its size was taken
// (the caller's stat, or SendFile's own fstat, then a truncation before the
// read) goes out gathered as the header and the bytes that exist, without
// the trailer, and the send reports ErrTruncated with the file's size now
// (an fstat that must find the file itself, though the short way of
// sendSmall holds no descriptor of it), on each way into the gathered send.
func TestGatheredTruncated(t *testing.T) {
	header, trailer := []byte("HEADER\n"), []byte("TRAILER\n")
	for _, way := range []struct {
		name        string
		cancellable bool
	}{{"caller's stat", false}, {"cancellable", true}} {
		for _, cut := range []int64{1000, 0} {
			t.Run(way.name+"/"+map[bool]string{true: "to empty", false: "to 1000"}[cut == 0], func(t *testing.T) {
				path, data := makeFile(t, 4<<10)
				f := openFile(t, path)
				fi, err := f.Stat()
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, cut); err != nil {
					t.Fatal(err)
				}
				ctx := sendContext(t, way.cancellable)
				c, s := tcpPair(t)
				got := readAllAsync(s)
				st, err := SendFile(ctx, c, f, 0, -1, &SendOptions{Header: header, Trailer: trailer, Info: fi})
				c.Close()
				b := <-got
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("err = %v, want ErrTruncated", err)
				}
				if want := "now ends at " + map[bool]string{true: "0", false: "1000"}[cut == 0]; !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to say the file %s", err, want)
				}
				if want := append(append([]byte{}, header...), data[:cut]...); !bytes.Equal(b, want) {
					t.Errorf("received %q... (%d bytes), want the header and the %d bytes that exist", b[:min(len(b), 20)], len(b), cut)
				}
				if st.Bytes != cut || st.Method != ReadWrite {
					t.Errorf("Stats %+v, want %d bytes by ReadWrite", st, cut)
				}
			})
		}
	}
}

// TestGatheredFileError: a read that fails in a gathered send (here a
// directory, passed with a regular file's stat so that the short way takes
// it) is a *FileError naming pread, and nothing reaches the peer: the
// header is written only with the body.
func TestGatheredFileError(t *testing.T) {
	path, _ := makeFile(t, 4<<10)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := openFile(t, t.TempDir())
	c, s := tcpPair(t)
	got := readAllAsync(s)
	st, err := SendFile(context.Background(), c, dir, 0, -1, &SendOptions{Header: []byte("HEADER\n"), Info: fi})
	c.Close()
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(fe.Error(), "pread") {
		t.Fatalf("err = %v, want a *FileError naming pread", err)
	}
	if b := <-got; len(b) != 0 || st.Bytes != 0 {
		t.Errorf("the peer got %d bytes (Stats.Bytes %d) of a send whose file could not be read", len(b), st.Bytes)
	}
}

// TestGatheredEmptyBody: an empty body (an empty file, as a server sends
// one) goes gathered as its header and trailer in one write, and no read
// is made or counted for it, on each way into the gathered send.
func TestGatheredEmptyBody(t *testing.T) {
	header, trailer := []byte("HEADER\n"), []byte("TRAILER\n")
	for _, cancellable := range []bool{false, true} {
		t.Run(map[bool]string{false: "caller's stat", true: "cancellable"}[cancellable], func(t *testing.T) {
			path, _ := makeFile(t, 0)
			f := openFile(t, path)
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			c, s := tcpPair(t)
			got := readAllAsync(s)
			var st Stats
			by := movedBy(t, func() {
				st, err = SendFile(sendContext(t, cancellable), c, f, 0, 0, &SendOptions{Header: header, Trailer: trailer, Info: fi})
			})
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if b, want := <-got, string(header)+string(trailer); string(b) != want {
				t.Errorf("received %q, want %q", b, want)
			}
			if st.Method != ReadWrite || st.Syscalls != 1 || st.Bytes != 0 || len(by) != 0 {
				t.Errorf("Stats %+v, bytes moved %v: want ReadWrite, one system call (the write), nothing moved", st, by)
			}
		})
	}
}
