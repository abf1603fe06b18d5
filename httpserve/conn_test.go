package httpserve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// connPair returns a conn wrapping the server end of a loopback connection,
// ready for a response, and a function that closes it and returns what the
// client end received.
func connPair(t *testing.T) (*conn, func() []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		client.Close()
		got <- b
	}()
	s := &Server{}
	c := &conn{Conn: server, srv: s, onClose: func() {}}
	c.begin(context.Background())
	return c, func() []byte { c.Close(); return <-got }
}

func TestConnReadFrom(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func(t *testing.T) *os.File {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}

	t.Run("limited-os-file", func(t *testing.T) {
		c, done := connPair(t)
		f := open(t)
		f.Seek(1000, io.SeekStart)
		c.hold()
		c.Write([]byte("HEADER"))
		lr := &io.LimitedReader{R: f, N: 5000}
		n, err := c.ReadFrom(lr)
		if err != nil || n != 5000 || lr.N != 0 {
			t.Fatalf("ReadFrom = %d, %v; N left %d", n, err, lr.N)
		}
		if pos, _ := f.Seek(0, io.SeekCurrent); pos != 6000 {
			t.Errorf("file position %d, want 6000", pos)
		}
		if got := done(); !bytes.Equal(got, append([]byte("HEADER"), data[1000:6000]...)) {
			t.Errorf("received %d bytes, want the header and 5000 bytes", len(got))
		}
		if !c.used || c.stats.Bytes != 5000 || !zerocopy.Supported(c.stats.Method, true) {
			t.Errorf("engine stats %+v", c.stats)
		}
	})
	t.Run("whole-os-file", func(t *testing.T) {
		c, done := connPair(t)
		f := open(t)
		f.Seek(int64(len(data)-300), io.SeekStart)
		if n, err := c.ReadFrom(f); err != nil || n != 300 {
			t.Fatalf("ReadFrom = %d, %v", n, err)
		}
		if got := done(); !bytes.Equal(got, data[len(data)-300:]) {
			t.Errorf("received %d bytes, want the last 300", len(got))
		}
	})
	t.Run("file-reader", func(t *testing.T) {
		c, done := connPair(t)
		fr := &fileReader{f: open(t), size: int64(len(data))}
		fr.Seek(-100, io.SeekEnd)
		lr := &io.LimitedReader{R: fr, N: 60}
		if n, err := c.ReadFrom(lr); err != nil || n != 60 || fr.off != int64(len(data))-40 {
			t.Fatalf("ReadFrom = %d, %v; offset %d", n, err, fr.off)
		}
		if got := done(); !bytes.Equal(got, data[len(data)-100:len(data)-40]) {
			t.Errorf("received %d bytes", len(got))
		}
	})
	t.Run("not-a-file", func(t *testing.T) {
		c, done := connPair(t)
		c.hold()
		c.Write([]byte("H"))
		if n, err := c.ReadFrom(strings.NewReader("body")); err != nil || n != 4 {
			t.Fatalf("ReadFrom = %d, %v", n, err)
		}
		if got := string(done()); got != "Hbody" {
			t.Errorf("received %q", got)
		}
		if c.used {
			t.Error("the engine ran for a reader that is not a file")
		}
	})
	t.Run("already-short", func(t *testing.T) {
		// The response promised more than the file now holds: the header
		// and the bytes that exist go out, then an ErrTruncated, and the
		// connection takes no more writes.
		c, done := connPair(t)
		f := open(t)
		f.Seek(int64(len(data)-10), io.SeekStart)
		c.hold()
		c.Write([]byte("HEADER"))
		n, err := c.ReadFrom(&io.LimitedReader{R: f, N: 100})
		if n != 10 || !errors.Is(err, zerocopy.ErrTruncated) {
			t.Fatalf("ReadFrom = %d, %v; want 10 and ErrTruncated", n, err)
		}
		if _, err := c.Write([]byte("more")); err == nil {
			t.Error("a write after a failed body send succeeded")
		}
		if got := done(); !bytes.Equal(got, append([]byte("HEADER"), data[len(data)-10:]...)) {
			t.Errorf("received %q", got)
		}
	})
}

func TestFileReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("hello, world"), 0o644)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &fileReader{f: f, size: 12}
	if n, _ := r.Seek(0, io.SeekEnd); n != 12 {
		t.Errorf("Seek(0, End) = %d", n)
	}
	if n, _ := r.Seek(-5, io.SeekCurrent); n != 7 {
		t.Errorf("Seek(-5, Current) = %d", n)
	}
	b, err := io.ReadAll(r)
	if string(b) != "world" || err != nil {
		t.Errorf("ReadAll = %q, %v", b, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to -1 succeeded")
	}
	if _, err := r.Seek(0, 7); err == nil {
		t.Error("Seek with a bad whence succeeded")
	}
}

// TestDeadlineOfACancelledSendNotInherited: a send cancelled just after its
// last byte left ends well, but the engine has set a write deadline in the
// past to wake itself; the next response on the connection must not
// inherit it (conn keeps the deadline it armed while enough of it is left,
// so it must learn of the engine's).
func TestDeadlineOfACancelledSendNotInherited(t *testing.T) {
	data := bytes.Repeat([]byte("z"), 1<<20)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, done := connPair(t)
	c.writeTimeout, c.srv.epoch = time.Minute, time.Now()
	c.write([]byte("warm-up")) // arms the write deadline a minute ahead
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.begin(ctx)
	c.progressCB = func(n int64) {
		if n >= int64(len(data)) {
			cancel() // the last byte has left
		}
	}
	n, err := c.sendRange(f, 0, -1, nil, nil, nil)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("sendRange = %d, %v; want the whole file and no error", n, err)
	}
	c.release()
	c.begin(context.Background())
	if _, err := c.Write([]byte("next response")); err != nil {
		t.Fatalf("the next response failed: %v", err)
	}
	if got := done(); !bytes.HasSuffix(got, []byte("next response")) {
		t.Errorf("received %d bytes without the next response", len(got))
	}
}
