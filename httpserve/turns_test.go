package httpserve_test

import (
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
)

// TestKeepAliveConnectionsServedInTurn guards the yield before a keep-alive
// connection's next read (conn.Read): with one processor, connections X and
// Y each have a request waiting when their previous responses end (the
// OnResponse hook holds both server goroutines until the test has written
// the requests). The first answered (X) then gets its next request too
// (the hook writes it). Served in turn, Y's waiting request is answered
// before X's next one; without the yield X's read finds its next request
// at once and keeps the processor while Y waits.
//
// A request is in the server's socket when the test's write returns,
// unless the kernel defers loopback delivery to ksoftirqd under load; the
// scenario runs up to three times and passes at the first run served in
// turn. Without the yield no run is.
func TestKeepAliveConnectionsServedInTurn(t *testing.T) {
	runtime.GOMAXPROCS(1)
	// Back to the runtime's own choice, which it keeps updating (a
	// restored number would stay fixed: runtime/debug.go).
	defer runtime.SetDefaultGOMAXPROCS()
	dir := t.TempDir()
	makeFile(t, dir, "f", 100)
	var orders [][]string
	for run := range 3 {
		order := servedOrder(t, dir, run)
		orders = append(orders, order)
		if len(order) == 3 && order[0][0] != order[1][0] {
			return // x1 y1 x2: in turn
		}
	}
	t.Fatalf("a connection whose next request waited was answered again before the other connection's waiting request, in each of 3 runs: %v", orders)
}

// servedOrder runs the scenario of TestKeepAliveConnectionsServedInTurn
// once and returns the requests after the first on each connection ("a1",
// "b1", "a2" or "b2") in the order they were answered.
func servedOrder(t *testing.T, dir string, run int) []string {
	t.Helper()
	var (
		mu      sync.Mutex
		order   []string
		clients = map[byte]net.Conn{}
		held    = make(chan struct{}, 2)
		release = make(chan struct{})
		done    = make(chan struct{})
	)
	request := func(name string) []byte {
		return []byte(fmt.Sprintf("GET /f?%s HTTP/1.1\r\nHost: x\r\n\r\n", name))
	}
	cfg := httpserve.Config{Dir: dir, OnResponse: func(r *httpserve.Response) {
		q := r.RequestURI[strings.IndexByte(r.RequestURI, '?')+1:]
		if q[1] == '0' {
			held <- struct{}{}
			<-release
			return
		}
		mu.Lock()
		defer mu.Unlock()
		order = append(order, q)
		switch len(order) {
		case 1:
			// The first answered connection's next request, waiting
			// before the server reads again.
			if _, err := clients[q[0]].Write(request(q[:1] + "2")); err != nil {
				t.Errorf("run %d: writing the second request: %v", run, err)
			}
		case 3:
			close(done)
		}
	}}
	ts := startServer(t, cfg)
	for _, name := range []byte{'a', 'b'} {
		c, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		mu.Lock()
		clients[name] = c
		mu.Unlock()
		if _, err := c.Write(request(string(name) + "0")); err != nil {
			t.Fatal(err)
		}
	}
	// However the run ends, the hooks let the server goroutines go.
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	timeout := time.After(30 * time.Second)
	for range 2 {
		select {
		case <-held:
		case <-timeout:
			t.Fatalf("run %d: the first requests were not answered in 30 s", run)
		}
	}
	for _, name := range []byte{'a', 'b'} {
		if _, err := clients[name].Write(request(string(name) + "1")); err != nil {
			t.Fatal(err)
		}
	}
	free()
	select {
	case <-done:
	case <-timeout:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("run %d: 3 responses not answered in 30 s; answered: %v", run, order)
	}
	ts.stop(t)
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(order)
}
