package testbin

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Direction is the way a relay's data flows: the direction it meters.
type Direction int

const (
	// Push meters client to target: the client sends (zcopy send --to the
	// relay, in front of a receiver).
	Push Direction = iota
	// Pull meters target to client: the target sends (zcopy recv --from
	// the relay, in front of a sender).
	Pull
)

// Relay is a TCP relay on 127.0.0.1 in front of a zcopy server that lets a
// test hold a transfer at a known point (Hold, HoldEach), slow it down
// (Throttle), or reset it (Reset, ResetConn): the machine's speed then
// decides nothing, where polling a part file's size races the transfer.
// It meters one direction, the data direction (Direction).
//
// Its sockets have small receive buffers (SmallRcvBuf), so that what is in
// flight when the relay stops forwarding is bounded by the sender's socket
// buffer (a few MiB, net.ipv4.tcp_wmem) and a transfer held after a few
// MiB is really in the middle of its file.
type Relay struct {
	tb     testing.TB
	ln     net.Listener
	target string
	dir    Direction

	mu        sync.Mutex
	budget    int64   // bytes the data direction may still forward; < 0: no limit
	each      int64   // >= 0: every connection has its own budget (pair.budget), new ones this much
	waiting   int     // forwarders waiting for budget
	forwarded int64   // bytes forwarded in the data direction, all connections
	rate      int64   // bytes per second the ticker adds to the budget, when > 0
	pairs     []*pair // not yet reset
	accepted  []*pair // all, in the order they came
	notify    chan<- struct{}
	closed    bool
	done      chan struct{} // closed by Close
	wake      chan struct{} // closed and replaced whenever the state changes
	wg        sync.WaitGroup
}

type pair struct {
	client, server *net.TCPConn
	dead           bool  // reset or closed by the relay
	budget         int64 // with Relay.each >= 0: what this connection may still forward
	waiting        bool  // its data direction waits for budget
	notified       bool  // its hold was sent on Relay.notify
}

// NewRelay relays connections on a new 127.0.0.1 port to target, metering
// dir. It starts with no limit. It is closed, and its connections reset,
// at the end of the test.
func NewRelay(tb testing.TB, target string, dir Direction) *Relay {
	tb.Helper()
	lc := net.ListenConfig{Control: SmallRcvBuf}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &Relay{tb: tb, ln: ln, target: target, dir: dir, budget: -1, each: -1,
		done: make(chan struct{}), wake: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	tb.Cleanup(r.Close)
	return r
}

// Addr returns the address the relay listens on, for the client.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// changed wakes everyone waiting on the state. r.mu is held.
func (r *Relay) changed() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// Hold lets n more bytes through in the data direction, then stops
// forwarding until Release, Throttle or Reset. The n bytes are shared by
// all connections: which of them gets how many is the scheduler's choice
// (see HoldEach).
func (r *Relay) Hold(n int64) {
	r.mu.Lock()
	r.budget, r.rate, r.each = n, 0, -1
	r.changed()
	r.mu.Unlock()
}

// HoldEach lets n more bytes through in the data direction of every
// connection, those open and those to come, then stops forwarding each
// until Release, Throttle or Reset: each connection is stopped at a known
// point, whatever the others do.
func (r *Relay) HoldEach(n int64) {
	r.mu.Lock()
	r.budget, r.rate, r.each = -1, 0, n
	for _, pr := range r.accepted {
		pr.budget = n
	}
	r.changed()
	r.mu.Unlock()
}

// Notify sends a value on ch for each connection that reaches its
// HoldEach point, once a connection, as HeldEach counts it. The relay
// waits for ch to take the value (or for Close).
func (r *Relay) Notify(ch chan<- struct{}) {
	r.mu.Lock()
	r.notify = ch
	r.mu.Unlock()
}

// Release lifts any limit.
func (r *Relay) Release() {
	r.mu.Lock()
	r.budget, r.rate, r.each = -1, 0, -1
	r.changed()
	r.mu.Unlock()
}

// Throttle forwards at about rate bytes per second from now on.
func (r *Relay) Throttle(rate int64) {
	r.mu.Lock()
	r.budget, r.rate, r.each = 0, rate, -1
	r.changed()
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			r.mu.Lock()
			if r.closed || r.rate != rate {
				r.mu.Unlock()
				return
			}
			r.budget = min(r.budget+rate/100, rate/10)
			r.changed()
			r.mu.Unlock()
		}
	}()
}

// await waits until ok, called with r.mu held, reports true, or until
// timeout; it reports whether ok did.
func (r *Relay) await(timeout time.Duration, ok func() bool) bool {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		done, wake := ok(), r.wake
		r.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-wake:
		case <-deadline:
			return false
		}
	}
}

// Held waits until the relay has forwarded all its budget (Hold) and a
// forwarder waits for more: the transfer is stopped where Hold said. It
// fails the test after timeout (a hang guard).
func (r *Relay) Held(timeout time.Duration) {
	r.tb.Helper()
	if !r.await(timeout, func() bool { return r.budget == 0 && r.waiting > 0 }) {
		r.tb.Fatalf("the transfer did not reach the relay's hold (forwarded %d bytes)", r.Bytes())
	}
}

// HeldEach waits until the relay has accepted at least n connections and
// each one still open has forwarded all its budget (HoldEach) and waits
// for more: every transfer is stopped at its known point. It fails the
// test after timeout (a hang guard).
func (r *Relay) HeldEach(n int, timeout time.Duration) {
	r.tb.Helper()
	allHeld := func() bool {
		ok := r.each >= 0 && len(r.accepted) >= n
		for _, pr := range r.accepted {
			ok = ok && (pr.dead || pr.held())
		}
		return ok
	}
	if !r.await(timeout, allHeld) {
		r.tb.Fatalf("the %d transfers did not all reach the relay's hold (%d connections, %d bytes forwarded)", n, r.Conns(), r.Bytes())
	}
}

// held reports whether pr's data direction has forwarded all its own
// budget and waits for more. The relay's mu is held.
func (pr *pair) held() bool { return pr.budget == 0 && pr.waiting }

// Bytes returns how many bytes went through in the data direction.
func (r *Relay) Bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forwarded
}

// Conns returns how many connections the relay has accepted.
func (r *Relay) Conns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.accepted)
}

// Reset resets every connection the relay holds, on both sides: each peer
// sees ECONNRESET, as from a middlebox or a peer that aborted.
func (r *Relay) Reset() {
	r.mu.Lock()
	pairs := r.pairs
	r.pairs = nil
	for _, pr := range pairs {
		pr.dead = true
	}
	r.changed()
	r.mu.Unlock()
	for _, pr := range pairs {
		pr.abort()
	}
}

// ResetConn resets the k-th connection the relay accepted (from 0), on
// both sides, and leaves the others alone.
func (r *Relay) ResetConn(k int) {
	r.tb.Helper()
	r.mu.Lock()
	if k >= len(r.accepted) {
		r.mu.Unlock()
		r.tb.Fatalf("the relay accepted %d connections; no connection %d to reset", len(r.accepted), k)
	}
	pr := r.accepted[k]
	pr.dead = true
	r.changed()
	r.mu.Unlock()
	pr.abort()
}

// Close stops the relay and resets every connection it holds. It is
// called at the end of the test; a test may call it sooner.
func (r *Relay) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	r.changed()
	r.mu.Unlock()
	r.ln.Close()
	r.Reset()
	r.wg.Wait()
}

// abort resets both connections of pr.
func (pr *pair) abort() {
	abort(pr.client)
	abort(pr.server)
}

// abort resets c: the peer sees ECONNRESET.
func abort(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		d := net.Dialer{Control: SmallRcvBuf, Timeout: 10 * time.Second}
		s, err := d.Dial("tcp", r.target)
		if err != nil {
			abort(c.(*net.TCPConn))
			continue
		}
		pr := &pair{client: c.(*net.TCPConn), server: s.(*net.TCPConn)}
		r.mu.Lock()
		pr.budget = r.each
		if r.closed {
			r.mu.Unlock()
			pr.abort()
			return
		}
		r.pairs = append(r.pairs, pr)
		r.accepted = append(r.accepted, pr)
		r.changed()
		r.mu.Unlock()
		src, dst := pr.client, pr.server
		if r.dir == Pull {
			src, dst = dst, src
		}
		r.wg.Add(2)
		go r.forward(pr, src, dst, true)
		go r.forward(pr, dst, src, false)
	}
}

// budgetOf returns the budget pr's data direction draws on: its own
// under HoldEach, the relay's otherwise. r.mu is held.
func (r *Relay) budgetOf(pr *pair) *int64 {
	if r.each >= 0 {
		return &pr.budget
	}
	return &r.budget
}

// take reserves up to n bytes of budget for pr's data direction; it waits
// while there is none. ok is false once pr is dead.
func (r *Relay) take(pr *pair, n int) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.blocked(pr) {
		// Waiting is a change the holds wait for; waking again, for
		// as long as nothing else changed, is not one.
		r.waiting++
		pr.waiting = true
		r.changed()
		var notify chan<- struct{}
		if r.each >= 0 && !pr.notified {
			pr.notified, notify = true, r.notify
		}
		for r.blocked(pr) {
			wake := r.wake
			r.mu.Unlock()
			if notify != nil {
				select {
				case notify <- struct{}{}:
				case <-r.done:
				}
				notify = nil
			}
			<-wake
			r.mu.Lock()
		}
		r.waiting--
		pr.waiting = false
	}
	if pr.dead || r.closed {
		return 0, false
	}
	if b := r.budgetOf(pr); *b > 0 {
		n = int(min(int64(n), *b))
		*b -= int64(n)
	}
	return n, true
}

// blocked reports whether pr's data direction must wait for budget. r.mu
// is held.
func (r *Relay) blocked(pr *pair) bool {
	return *r.budgetOf(pr) == 0 && !pr.dead && !r.closed
}

// giveBack returns pr's unused budget and counts what was forwarded.
func (r *Relay) giveBack(pr *pair, unused, forwarded int) {
	r.mu.Lock()
	if b := r.budgetOf(pr); *b >= 0 {
		*b += int64(unused)
	}
	r.forwarded += int64(forwarded)
	r.changed()
	r.mu.Unlock()
}

// forward copies src to dst. The data direction (metered) honours the
// budget. An end of stream is passed on as a half close; any other error,
// on either side, resets both connections, so that a reset reaches the
// other peer as a reset.
func (r *Relay) forward(pr *pair, src, dst *net.TCPConn, metered bool) {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n := len(buf)
		if metered {
			var ok bool
			if n, ok = r.take(pr, n); !ok {
				return
			}
		}
		k, rerr := src.Read(buf[:n])
		var werr error
		if k > 0 {
			_, werr = dst.Write(buf[:k])
		}
		if metered {
			r.giveBack(pr, n-k, k)
		}
		switch {
		case werr != nil || (rerr != nil && !errors.Is(rerr, io.EOF)):
			r.mu.Lock()
			dead := pr.dead
			pr.dead = true
			r.changed()
			r.mu.Unlock()
			if !dead {
				pr.abort()
			}
			return
		case rerr != nil:
			dst.CloseWrite()
			return
		}
	}
}
