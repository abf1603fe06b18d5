package httpserve_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// guard bounds every client's wait, only so that a broken server fails the
// test instead of hanging it; no verdict depends on it.
const guard = 60 * time.Second

// stacks runs f against both HTTP stacks: plain HTTP (fasthttp) and HTTPS
// (net/http). dial connects a client, slow with a small receive buffer.
func stacks(t *testing.T, f func(t *testing.T, cfg httpserve.Config, dial func(t *testing.T, addr string, slow bool) net.Conn)) {
	t.Run("fasthttp", func(t *testing.T) {
		f(t, httpserve.Config{}, func(t *testing.T, addr string, slow bool) net.Conn {
			return dialClient(t, addr, slow, nil)
		})
	})
	t.Run("nethttp-tls", func(t *testing.T) {
		cert, _, _ := testbin.SelfSigned(t)
		cfg := httpserve.Config{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
		f(t, cfg, func(t *testing.T, addr string, slow bool) net.Conn {
			return dialClient(t, addr, slow, &tls.Config{InsecureSkipVerify: true})
		})
	})
}

func dialClient(t *testing.T, addr string, slow bool, tc *tls.Config) net.Conn {
	t.Helper()
	d := net.Dialer{}
	if slow {
		d.Control = testbin.SmallRcvBuf
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if tc != nil {
		c = tls.Client(c, tc)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(guard))
	return c
}

// client is one keep-alive connection that sends requests by hand.
type client struct {
	c  net.Conn
	br *bufio.Reader
}

func newClient(c net.Conn) *client { return &client{c: c, br: bufio.NewReader(c)} }

// get sends a GET and reads the response's header; the body is left to
// the caller.
func (cl *client) get(path string) (*http.Response, error) {
	if _, err := fmt.Fprintf(cl.c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		return nil, err
	}
	return http.ReadResponse(cl.br, nil)
}

// getAll sends a GET and reads the whole response.
func (cl *client) getAll(path string) (int, []byte, error) {
	resp, err := cl.get(path)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b, err
}

// TestIdleConnectionsReclaimedAtCap: with every connection slot held, by
// one connection in the middle of a slow response and by keep-alive
// connections idle between requests, a new client is answered at once: the
// least recently used idle connection is closed between requests (its
// client reads a clean end, no partial response), and the slow response
// is not cut.
func TestIdleConnectionsReclaimedAtCap(t *testing.T) {
	stacks(t, func(t *testing.T, cfg httpserve.Config, dial func(*testing.T, string, bool) net.Conn) {
		const maxConns, idle = 4, 3
		dir := t.TempDir()
		small := readFile(t, makeFile(t, dir, "small.txt", 100))
		const bigSize = 32 << 20
		makeFile(t, dir, "big.bin", bigSize)
		cfg.Dir, cfg.MaxConns = dir, maxConns
		ts := startServer(t, cfg)

		// The oldest connection: a slow response, parked on a client that
		// does not read. Its header has arrived, so it is in the middle of
		// the response.
		slow := newClient(dial(t, ts.Addr, true))
		resp, err := slow.get("/big.bin")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("slow client: %v, %v", resp, err)
		}

		// Keep-alive clients that make one request and stay silent.
		idlers := make([]*client, idle)
		for i := range idlers {
			idlers[i] = newClient(dial(t, ts.Addr, false))
			code, body, err := idlers[i].getAll("/small.txt")
			if err != nil || code != http.StatusOK || string(body) != string(small) {
				t.Fatalf("idle client %d: %d, %d bytes, %v", i, code, len(body), err)
			}
		}

		// Every slot is held: the new client must still be answered.
		fresh := newClient(dial(t, ts.Addr, false))
		code, body, err := fresh.getAll("/small.txt")
		if err != nil || code != http.StatusOK || string(body) != string(small) {
			t.Fatalf("new client at the cap: %d, %d bytes, %v", code, len(body), err)
		}
		if got := ts.metric(t, "zcopy_http_idle_connections_reclaimed_total"); got != 1 {
			t.Errorf("idle connections reclaimed: %v, want 1 (nginx's max(1, min(32, idle/8)))", got)
		}

		// One idle client finds its connection closed, cleanly: no byte of
		// a response before the end. The others are still served on
		// theirs.
		closed := 0
		for i, cl := range idlers {
			code, body, err := cl.getAll("/small.txt")
			switch {
			case err == nil && code == http.StatusOK && string(body) == string(small):
			case err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err)):
				if code != 0 || len(body) != 0 {
					t.Errorf("idle client %d: closed after %d bytes of a response", i, len(body))
				}
				closed++
			default:
				t.Errorf("idle client %d: %d, %d bytes, %v", i, code, len(body), err)
			}
		}
		if closed != 1 {
			t.Errorf("%d idle connections closed, want 1", closed)
		}

		// The slow response was not closed to make room: it arrives whole.
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != bigSize {
			t.Fatalf("slow response: %d of %d bytes, %v", n, bigSize, err)
		}
		if !strings.Contains(ts.Logs.String(), "closed idle connections to make room") {
			t.Errorf("no log line for the reclaimed connection")
		}
	})
}

// TestReclaimSparesPipelinedResponse: a request the server read ahead,
// pipelined behind another in one write, is answered with its connection
// marked busy though no read of the socket began it, so a client arriving
// at the cap meanwhile waits for room instead of having the listener close
// that connection mid-response for it.
func TestReclaimSparesPipelinedResponse(t *testing.T) {
	stacks(t, func(t *testing.T, cfg httpserve.Config, dial func(*testing.T, string, bool) net.Conn) {
		dir := t.TempDir()
		small := readFile(t, makeFile(t, dir, "small.txt", 100))
		const bigSize = 32 << 20
		makeFile(t, dir, "big.bin", bigSize)
		cfg.Dir, cfg.MaxConns = dir, 1
		ts := startServer(t, cfg)

		busy := newClient(dial(t, ts.Addr, true))
		fmt.Fprint(busy.c, "GET /small.txt HTTP/1.1\r\nHost: test\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: test\r\n\r\n")
		resp, err := http.ReadResponse(busy.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != string(small) {
			t.Fatalf("first response: %d bytes, %v", len(b), err)
		}
		// The second response's header has come: the server is in the
		// middle of it (32 MiB do not fit in the sockets' buffers).
		if resp, err = http.ReadResponse(busy.br, nil); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("second response: %v, %v", resp, err)
		}

		fresh := newClient(dial(t, ts.Addr, false))
		type result struct {
			code int
			body []byte
			err  error
		}
		res := make(chan result, 1)
		go func() {
			code, body, err := fresh.getAll("/small.txt")
			res <- result{code, body, err}
		}()
		// Give the listener the time to take the new connection and look
		// for an idle one to close; a slower machine only makes the test
		// pass without having tried it.
		time.Sleep(300 * time.Millisecond)

		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != bigSize {
			t.Fatalf("the pipelined response: %d of %d bytes, %v: its connection was closed to make room", n, bigSize, err)
		}
		busy.c.Close()
		r := <-res
		if r.err != nil || r.code != http.StatusOK || string(r.body) != string(small) {
			t.Fatalf("the client that waited for room: %d, %d bytes, %v", r.code, len(r.body), r.err)
		}
	})
}

// TestListingMemoryBound: directory listing pages held by clients that do
// not read count against Config.ListingMemory until their responses end;
// past it a listing gets 503 with Retry-After, the heap stays within the
// budget (and a margin), and once the held responses end a listing is
// served again.
func TestListingMemoryBound(t *testing.T) {
	// One directory for both stacks: 4,000 names of 200 bytes make a page
	// of about 2 MB.
	dir := t.TempDir()
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 4000 {
		name := fmt.Sprintf("%05d-%s", i, strings.Repeat("n", 194))
		if err := os.WriteFile(filepath.Join(sub, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stacks(t, func(t *testing.T, cfg httpserve.Config, dial func(*testing.T, string, bool) net.Conn) {
		const budget = 8 << 20
		const clients = 40 // unbounded, about 80 MB of pages
		cfg.Dir, cfg.ListingMemory = dir, budget
		// Small socket buffers on both ends, so that a page stays in the
		// server until its client reads it (the reproducer's 13.8 MB
		// pages outgrow a loopback socket's buffers without help).
		ts := startServerWith(t, cfg, net.ListenConfig{Control: testbin.SmallSndBuf})

		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		var held []*client
		var heldResps []*http.Response
		var pageLen int64
		refused := 0
		for i := range clients {
			cl := newClient(dial(t, ts.Addr, true))
			resp, err := cl.get("/d/")
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			switch resp.StatusCode {
			case http.StatusOK:
				if refused > 0 {
					t.Fatalf("client %d: 200 after a 503, with every page still held", i)
				}
				pageLen = resp.ContentLength
				held = append(held, cl) // its page waits for it to read
				heldResps = append(heldResps, resp)
			case http.StatusServiceUnavailable:
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("client %d: 503 without Retry-After", i)
				}
				io.Copy(io.Discard, resp.Body)
				refused++
			default:
				t.Fatalf("client %d: status %d", i, resp.StatusCode)
			}
		}
		t.Logf("page of %d bytes; %d held, %d refused", pageLen, len(held), refused)
		if len(held) == 0 || refused == 0 || int64(len(held))*pageLen > budget {
			t.Fatalf("%d pages of %d bytes held, %d refused: want the budget of %d to hold some and refuse the rest", len(held), pageLen, refused, budget)
		}
		if got := ts.metric(t, "zcopy_http_listings_refused_total"); got != float64(refused) {
			t.Errorf("zcopy_http_listings_refused_total %v, want %d", got, refused)
		}
		if got := ts.metric(t, "zcopy_http_listing_bytes"); got <= 0 || got > budget {
			t.Errorf("zcopy_http_listing_bytes %v while pages are held, want within (0, %d]", got, budget)
		}

		// The heap holds the budget's pages, not one per client.
		runtime.GC()
		var during runtime.MemStats
		runtime.ReadMemStats(&during)
		grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
		const margin = 24 << 20
		t.Logf("heap grew by %d bytes with %d non-reading clients (VmHWM %d KiB)", grown, clients, readProcStatus("VmHWM"))
		if grown > budget+margin {
			t.Errorf("heap grew by %d bytes, want at most the budget %d and a margin of %d (unbounded: %d pages of %d bytes)", grown, budget, margin, clients, pageLen)
		}

		// The held responses end; each connection's next request comes
		// after its page was given back, and then a listing is served.
		for i, resp := range heldResps {
			if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != pageLen {
				t.Fatalf("held client %d: %d of %d bytes, %v", i, n, pageLen, err)
			}
			if code, _, err := held[i].getAll("/nothere"); err != nil || code != http.StatusNotFound {
				t.Fatalf("held client %d, next request: %d, %v", i, code, err)
			}
		}
		if code, body, err := held[0].getAll("/d/"); err != nil || code != http.StatusOK || int64(len(body)) != pageLen {
			t.Fatalf("listing after the held pages ended: %d, %d bytes, %v", code, len(body), err)
		}
		if code, _, err := held[0].getAll("/nothere"); err != nil || code != http.StatusNotFound {
			t.Fatalf("next request: %d, %v", code, err)
		}
		ts.waitResponses(t, clients+len(held)+2)
		if got := ts.metric(t, "zcopy_http_listing_bytes"); got != 0 {
			t.Errorf("zcopy_http_listing_bytes %v after every listing ended, want 0", got)
		}
	})
}
