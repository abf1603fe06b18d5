package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// relay is a TCP relay on 127.0.0.1 in front of a zcopy server, so that a
// test can hold a transfer at a known point: the machine's speed then
// decides nothing, where polling a part file's size races the transfer.
// It meters the client-to-target direction, the data of a push (the
// client is the sender). A minimal copy of the reliability suite's proxy,
// whose test code this package cannot import.
//
// Its sockets have small receive buffers, so that what is in flight when
// the relay stops forwarding is bounded by the sender's socket buffer, a
// few MiB at most.
type relay struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu        sync.Mutex
	budget    int64 // bytes the data direction may still forward; < 0: no limit
	waiting   int   // forwarders waiting for budget
	forwarded int64 // bytes forwarded in the data direction
	conns     []*net.TCPConn
	closed    bool
	wake      chan struct{} // closed and replaced whenever the state changes
	wg        sync.WaitGroup
}

const relayRcvBuf = 64 << 10

// newRelay relays connections on a new 127.0.0.1 port to target, without
// a limit until hold. It is closed, and its connections reset, at the end
// of the test.
func newRelay(t testing.TB, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{t: t, ln: ln, target: target, budget: -1, wake: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

// changed wakes everyone waiting on the state. r.mu is held.
func (r *relay) changed() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// hold lets n more bytes through in the data direction, then stops
// forwarding until release.
func (r *relay) hold(n int64) {
	r.mu.Lock()
	r.budget = n
	r.changed()
	r.mu.Unlock()
}

// release lifts the limit.
func (r *relay) release() {
	r.mu.Lock()
	r.budget = -1
	r.changed()
	r.mu.Unlock()
}

// held waits until the relay has forwarded all its budget and a forwarder
// waits for more: the transfer is stopped where hold said. It fails the
// test after timeout (a hang guard).
func (r *relay) held(timeout time.Duration) {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		ok := r.budget == 0 && r.waiting > 0
		wake, forwarded := r.wake, r.forwarded
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			r.t.Fatalf("the transfer did not reach the relay's hold (forwarded %d bytes)", forwarded)
		}
	}
}

func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	conns := r.conns
	r.conns = nil
	r.changed()
	r.mu.Unlock()
	r.ln.Close()
	for _, c := range conns {
		abort(c)
	}
	r.wg.Wait()
}

func abort(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", r.target, 10*time.Second)
		if err != nil {
			abort(c.(*net.TCPConn))
			continue
		}
		client, server := c.(*net.TCPConn), s.(*net.TCPConn)
		client.SetReadBuffer(relayRcvBuf)
		server.SetReadBuffer(relayRcvBuf)
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			abort(client)
			abort(server)
			return
		}
		r.conns = append(r.conns, client, server)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.forward(client, server, true)
		go r.forward(server, client, false)
	}
}

// take reserves up to n bytes of budget; it waits while there is none. ok
// is false once the relay is closed.
func (r *relay) take(n int) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.budget == 0 && !r.closed {
		r.waiting++
		wake := r.wake
		r.changed()
		r.mu.Unlock()
		<-wake
		r.mu.Lock()
		r.waiting--
	}
	if r.closed {
		return 0, false
	}
	if r.budget > 0 {
		n = int(min(int64(n), r.budget))
		r.budget -= int64(n)
	}
	return n, true
}

// giveBack returns unused budget and counts what was forwarded.
func (r *relay) giveBack(unused, forwarded int) {
	r.mu.Lock()
	if r.budget >= 0 {
		r.budget += int64(unused)
	}
	r.forwarded += int64(forwarded)
	r.changed()
	r.mu.Unlock()
}

// forward copies src to dst, the data direction (metered) within the
// budget. An end of stream is passed on as a half close; any other error
// resets both connections, so that a reset reaches the other peer as one.
func (r *relay) forward(src, dst *net.TCPConn, metered bool) {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n := len(buf)
		if metered {
			var ok bool
			if n, ok = r.take(n); !ok {
				return
			}
		}
		k, rerr := src.Read(buf[:n])
		var werr error
		if k > 0 {
			_, werr = dst.Write(buf[:k])
		}
		if metered {
			r.giveBack(n-k, k)
		}
		switch {
		case werr != nil || (rerr != nil && !errors.Is(rerr, io.EOF)):
			abort(src)
			abort(dst)
			return
		case rerr != nil:
			dst.CloseWrite()
			return
		}
	}
}
