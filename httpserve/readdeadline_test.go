package httpserve_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
)

// getOn sends a GET for /a.txt on c, in pieces written pause apart, and
// reads its response.
func getOn(t *testing.T, c net.Conn, br *bufio.Reader, pause time.Duration, pieces ...string) {
	t.Helper()
	if len(pieces) == 0 {
		pieces = []string{"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"}
	}
	for i, p := range pieces {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := io.WriteString(c, p); err != nil {
			t.Fatalf("writing the request: %v", err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request was not answered: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestReadHeaderTimeoutAfterFirstRead: a request whose header does not
// come whole is cut ReadHeaderTimeout after its first bytes, on a new
// connection as on a keep-alive one, though the idle timeout that was
// armed while the keep-alive connection waited is an hour (the connection
// arms its read deadlines itself, lazily, and a request read in one go
// moves none); and so is one whose first bytes came pipelined behind the
// last request, read ahead by the stack with it (no read of the socket
// began it: markActive did).
func TestReadHeaderTimeoutAfterFirstRead(t *testing.T) {
	ts := startServer(t, httpserve.Config{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: time.Hour})
	os.WriteFile(ts.Dir+"/a.txt", []byte("a"), 0o644)
	const whole = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name      string
		keepAlive bool // a request answered first
		pipelined bool // the partial request sent in one write with it
		partial   string
	}{
		{"new connection, one byte", false, false, "G"},
		{"keep-alive, one byte", true, false, "G"},
		{"keep-alive, header without its end", true, false, "GET /a.txt HTTP/1.1\r\nHost: x\r\n"},
		{"keep-alive, request line only", true, false, "GET /a.txt HTTP/1.1\r\n"},
		{"pipelined, one byte", true, true, "G"},
		{"pipelined, header without its end", true, true, "GET /a.txt HTTP/1.1\r\nHost: x\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			switch {
			case tc.pipelined:
				getOn(t, c, bufio.NewReader(c), 0, whole+tc.partial)
			case tc.keepAlive:
				getOn(t, c, bufio.NewReader(c), 0)
				fmt.Fprint(c, tc.partial)
			default:
				fmt.Fprint(c, tc.partial)
			}
			if closed, err := readUntilClosed(c, 10*time.Second); !closed {
				t.Fatalf("a client that never finished its header still holds its connection: %v", err)
			}
		})
	}
}

// TestIdleTimeoutAfterPiecemealRequest: after a request whose header came
// in pieces (which arms ReadHeaderTimeout), the wait for the next request
// is bounded by IdleTimeout again, not by the header's timeout; and the
// connection is still closed once it has idled that long. The bounds
// leave the client room to stall: a second between the header's pieces,
// two and a half between the requests.
func TestIdleTimeoutAfterPiecemealRequest(t *testing.T) {
	const header, idle = time.Second, 5 * time.Second
	ts := startServer(t, httpserve.Config{ReadHeaderTimeout: header, IdleTimeout: idle})
	os.WriteFile(ts.Dir+"/a.txt", []byte("a"), 0o644)
	c, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	getOn(t, c, br, 50*time.Millisecond, "GET /a.txt HTTP/1.1\r\n", "Host: x\r\n\r\n")
	time.Sleep(idle / 2) // well past the header's timeout, well within the idle one
	// The idle wait is armed after the server has read this request, so
	// after start: a client stalled once the response is in cannot make
	// the wait look short.
	start := time.Now()
	getOn(t, c, br, 0)
	if closed, err := readUntilClosed(c, 10*idle); !closed {
		t.Fatalf("an idle keep-alive connection was not closed: %v", err)
	}
	if waited := time.Since(start); waited < idle*7/8 {
		t.Fatalf("the idle connection was closed after %v, before 7/8 of its IdleTimeout (%v)", waited, idle)
	}
}

// TestKeepAliveBusyPastIdleTimeout: a connection that keeps sending
// requests, each well within IdleTimeout of the last, is served for
// longer than IdleTimeout: the idle deadline a request read in one go
// leaves in place is moved on once less than 7/8 of it is left.
func TestKeepAliveBusyPastIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	ts := startServer(t, httpserve.Config{IdleTimeout: idle})
	os.WriteFile(ts.Dir+"/a.txt", []byte("a"), 0o644)
	// The verdict needs the client's own pauses to stay well under the
	// timeout; a run in which the machine stalled the client for half of
	// it proves nothing, and is tried again.
	for attempt := 1; ; attempt++ {
		c, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		var maxGap time.Duration
		last := time.Now()
		for start := time.Now(); time.Since(start) < 5*idle/2; {
			time.Sleep(100 * time.Millisecond)
			maxGap = max(maxGap, time.Since(last))
			if _, err = io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				break
			}
			last = time.Now()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var resp *http.Response
			if resp, err = http.ReadResponse(br, nil); err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		c.Close()
		switch {
		case err == nil:
			return
		case maxGap < idle/2:
			t.Fatalf("a busy keep-alive connection was closed (its longest pause %v, IdleTimeout %v): %v", maxGap, idle, err)
		case attempt == 3:
			t.Fatalf("the client paused for %v of an IdleTimeout of %v in each of %d runs: no verdict", maxGap, idle, attempt)
		}
	}
}
