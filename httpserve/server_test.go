package httpserve_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// readUntilClosed reads c until the server closes it and reports whether it
// did within limit.
func readUntilClosed(c net.Conn, limit time.Duration) (closed bool, err error) {
	c.SetReadDeadline(time.Now().Add(limit))
	_, err = io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false, err
	}
	return true, err
}

func TestReadHeaderTimeout(t *testing.T) {
	ts := startServer(t, httpserve.Config{ReadHeaderTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the end of the header
	if closed, err := readUntilClosed(c, 10*time.Second); !closed {
		t.Fatalf("a client that never finished its header still holds its connection: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, httpserve.Config{IdleTimeout: 200 * time.Millisecond})
	os.WriteFile(ts.Dir+"/a.txt", []byte("a"), 0o644)
	c, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if closed, err := readUntilClosed(c, 10*time.Second); !closed {
		t.Fatalf("an idle keep-alive connection was not closed: %v", err)
	}
}

// TestWriteTimeout: a client that stops reading is dropped after the write
// timeout, while a slow client that keeps reading is served in full even
// though its download lasts longer than the timeout.
//
// The slow client reads 64 KiB every 25 ms against a timeout of 2 s, so
// its 8 MiB last at least 3.2 s (the pauses alone). The server sees the
// client's progress only when the kernel wakes it for buffer space, once
// about a third of its send buffer has drained; its send buffer is kept
// small (testbin.SmallSndBuf) so that this happens every few tens of KiB the
// client reads: even a client slowed tenfold by a loaded machine gives the
// server progress far more often than every 2 s. (With the buffer the
// kernel grows, up to 4 MiB, a wake-up needs about 1.4 MB drained.)
func TestWriteTimeout(t *testing.T) {
	dir := t.TempDir()
	makeFile(t, dir, "big.bin", 64<<20)
	slow := readFile(t, makeFile(t, dir, "slow.bin", 8<<20))

	t.Run("stalled", func(t *testing.T) {
		ts := startServer(t, httpserve.Config{Dir: dir, WriteTimeout: 300 * time.Millisecond})
		c := slowClient(t, ts.Addr)
		fmt.Fprint(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		if _, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r := ts.nthResponse(t, 1)
		t.Logf("dropped after %v: %v", time.Since(start), r.Err)
		if r.Outcome != httpserve.Aborted || !errors.Is(r.Err, os.ErrDeadlineExceeded) {
			t.Errorf("outcome %q, error %v; want aborted by the write deadline", r.Outcome, r.Err)
		}
		if closed, err := readUntilClosed(c, 20*time.Second); !closed {
			t.Errorf("the connection stayed open: %v", err)
		}
	})
	// A deadline armed by an earlier response of the connection is kept
	// while enough of it is left (armWriteDeadline), never past its use:
	// after small responses, a stalled body is still dropped.
	t.Run("stalled-after-keep-alive", func(t *testing.T) {
		makeFile(t, dir, "small.bin", 4<<10)
		ts := startServer(t, httpserve.Config{Dir: dir, WriteTimeout: 300 * time.Millisecond})
		c := slowClient(t, ts.Addr)
		br := bufio.NewReader(c)
		for range 3 {
			fmt.Fprint(c, "GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		fmt.Fprint(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		}
		r := ts.nthResponse(t, 4)
		if r.Outcome != httpserve.Aborted || !errors.Is(r.Err, os.ErrDeadlineExceeded) {
			t.Errorf("outcome %q, error %v; want aborted by the write deadline", r.Outcome, r.Err)
		}
	})
	t.Run("slow", func(t *testing.T) {
		const timeout = 2 * time.Second
		ts := startServerWith(t, httpserve.Config{Dir: dir, WriteTimeout: timeout}, net.ListenConfig{Control: testbin.SmallSndBuf})
		c := slowClient(t, ts.Addr)
		fmt.Fprint(c, "GET /slow.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		// The body is checked as it comes, into one small buffer: no
		// allocation (and garbage collection) of the size of the file
		// holds the reader up.
		start := time.Now()
		buf := make([]byte, 64<<10)
		got := 0
		for {
			n, err := io.ReadFull(resp.Body, buf)
			if got+n > len(slow) || !bytes.Equal(buf[:n], slow[got:got+n]) {
				t.Fatalf("the %d bytes after %d are not the file's", n, got)
			}
			got += n
			if err == io.EOF || err == io.ErrUnexpectedEOF && got == len(slow) {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes: %v", got, err)
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Logf("read %d bytes in %v (write timeout %v)", got, time.Since(start), timeout)
		if got != len(slow) {
			t.Fatalf("got %d bytes, want the %d of the file", got, len(slow))
		}
		if r := ts.nthResponse(t, 1); r.Outcome != httpserve.OK {
			t.Errorf("outcome %q (%v)", r.Outcome, r.Err)
		}
	})
}

// TestConnCap: past MaxConns, a new connection waits until one closes
// while none is idle: both connections here are in the middle of a request
// (part of its header sent), which is never closed to make room (idle ones
// are: TestIdleConnectionsReclaimedAtCap).
func TestConnCap(t *testing.T) {
	ts := startServer(t, httpserve.Config{MaxConns: 2})
	os.WriteFile(ts.Dir+"/a.txt", []byte("a"), 0o644)
	request := func(c net.Conn, wait time.Duration) error {
		c.SetDeadline(time.Now().Add(wait))
		fmt.Fprint(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		if i < 2 {
			if err := request(c, 10*time.Second); err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			fmt.Fprint(c, "GET /a.txt HTTP/1.1\r\n") // the next request, begun
		}
	}
	if err := request(conns[2], 500*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection past a cap of 2 was answered (%v)", err)
	}
	if open := ts.metric(t, "zcopy_http_connections_open"); open != 2 {
		t.Errorf("connections open = %v, want 2", open)
	}
	conns[0].Close()
	// The request already sent is served once the connection is accepted.
	conns[2].SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conns[2]), nil)
	if err != nil {
		t.Fatalf("after a slot freed: %v", err)
	}
	resp.Body.Close()
}

// TestGracefulShutdown: cancelling Serve's context stops new connections
// and lets a download in flight finish. The waits are hang guards: new
// connections must be refused within 20 s (Serve closes its listener at
// once), and the grace period (2 minutes) is far longer than the download
// takes, so neither verdict depends on the machine's speed.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	data := readFile(t, makeFile(t, dir, "f.bin", 4<<20))
	ts := startServer(t, httpserve.Config{Dir: dir, ShutdownGrace: 2 * time.Minute})
	c := slowClient(t, ts.Addr)
	fmt.Fprint(c, "GET /f.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	io.CopyN(&body, resp.Body, 256<<10)

	ts.cancel()
	refused := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		nc, err := net.DialTimeout("tcp", ts.Addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		nc.Close()
	}
	if !refused {
		t.Error("still accepting connections 20 s after shutdown began")
	}
	for {
		_, err := io.CopyN(&body, resp.Body, 256<<10)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the download in flight failed after %d bytes: %v", body.Len(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !bytes.Equal(body.Bytes(), data) {
		t.Fatalf("got %d bytes, want the file's %d", body.Len(), len(data))
	}
	select {
	case err := <-ts.done:
		ts.done <- err
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after the last response")
	}
	if r := ts.nthResponse(t, 1); r.Outcome != httpserve.OK {
		t.Errorf("outcome %q", r.Outcome)
	}
}

// TestGraceExpires: a response still running at the end of the grace period
// is cut and Serve returns.
func TestGraceExpires(t *testing.T) {
	dir := t.TempDir()
	makeFile(t, dir, "big.bin", 64<<20)
	ts := startServer(t, httpserve.Config{Dir: dir, ShutdownGrace: 300 * time.Millisecond})
	c := slowClient(t, ts.Addr)
	fmt.Fprint(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ts.cancel()
	select {
	case err := <-ts.done:
		ts.done <- err
		t.Logf("Serve returned after %v: %v", time.Since(start), err)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after the grace period")
	}
	r := ts.nthResponse(t, 1)
	if r.Outcome != httpserve.Aborted || !errors.Is(r.Err, context.Canceled) && !errors.Is(r.Err, net.ErrClosed) {
		t.Errorf("outcome %q, error %v: want aborted by the shutdown", r.Outcome, r.Err)
	}
}
