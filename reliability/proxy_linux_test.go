package reliability

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proxy is a TCP relay on 127.0.0.1 between zcopy processes that lets a
// test hold a transfer at a known point, slow it down, or reset it. It
// meters one direction, the data direction: client to target for a push
// (the client is the sender), target to client for a pull.
//
// Its sockets have small receive buffers (64 KiB), so that what is in
// flight when the proxy stops forwarding is bounded by the sender's socket
// buffer (at most 4 MiB here, net.ipv4.tcp_wmem) and a transfer held after
// a few MiB is really in the middle of its file.
type proxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	down   bool // the data flows from the target to the client

	mu        sync.Mutex
	budget    int64   // bytes the data direction may still forward; < 0: no limit
	each      int64   // >= 0: every connection has its own budget (pair.budget), new ones this much
	waiting   int     // forwarders waiting for budget
	forwarded int64   // bytes forwarded in the data direction, all connections
	rate      int64   // bytes per second the ticker adds to the budget, when > 0
	pairs     []*pair // not yet reset
	accepted  []*pair // all, in the order they came
	closed    bool
	wake      chan struct{} // closed and replaced whenever the state changes
	wg        sync.WaitGroup
}

type pair struct {
	client, server *net.TCPConn
	dead           bool  // reset or closed by the proxy
	budget         int64 // with proxy.each >= 0: what this connection may still forward
	waiting        bool  // its data direction waits for budget
}

const proxyRcvBuf = 64 << 10

func smallRcvBuf(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, proxyRcvBuf)
	})
	if err != nil {
		return err
	}
	return serr
}

// newProxy relays connections on a new 127.0.0.1 port to target. It
// starts with no limit.
func newProxy(t testing.TB, target string, down bool) *proxy {
	t.Helper()
	lc := net.ListenConfig{Control: smallRcvBuf}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, down: down, budget: -1, each: -1, wake: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// changed wakes everyone waiting on the state. p.mu is held.
func (p *proxy) changed() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// hold lets n more bytes through in the data direction, then stops
// forwarding until release, throttle or reset. The n bytes are shared by
// all connections: which of them gets how many is the scheduler's choice
// (see holdEach).
func (p *proxy) hold(n int64) {
	p.mu.Lock()
	p.budget, p.rate, p.each = n, 0, -1
	p.changed()
	p.mu.Unlock()
}

// holdEach lets n more bytes through in the data direction of every
// connection, those open and those to come, then stops forwarding each
// until release, throttle or reset: each connection is stopped at a known
// point, whatever the others do.
func (p *proxy) holdEach(n int64) {
	p.mu.Lock()
	p.budget, p.rate, p.each = -1, 0, n
	for _, pr := range p.accepted {
		pr.budget = n
	}
	p.changed()
	p.mu.Unlock()
}

// release lifts any limit.
func (p *proxy) release() {
	p.mu.Lock()
	p.budget, p.rate, p.each = -1, 0, -1
	p.changed()
	p.mu.Unlock()
}

// throttle forwards at about rate bytes per second from now on.
func (p *proxy) throttle(rate int64) {
	p.mu.Lock()
	p.budget, p.rate, p.each = 0, rate, -1
	p.changed()
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			p.mu.Lock()
			if p.closed || p.rate != rate {
				p.mu.Unlock()
				return
			}
			p.budget = min(p.budget+rate/100, rate/10)
			p.changed()
			p.mu.Unlock()
		}
	}()
}

// held waits until the proxy has forwarded all its budget and a forwarder
// is waiting for more: the transfer is stopped in the middle. It fails the
// test after timeout (a hang guard).
func (p *proxy) held(timeout time.Duration) {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		ok := p.budget == 0 && p.waiting > 0
		wake := p.wake
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			p.t.Fatalf("the transfer did not reach the proxy's hold (forwarded %d bytes)", p.bytes())
		}
	}
}

// heldEach waits until the proxy has accepted at least n connections and
// each one still open has forwarded all its budget (holdEach) and waits for
// more: every transfer is stopped at its known point. It fails the test
// after timeout (a hang guard).
func (p *proxy) heldEach(n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		ok := p.each >= 0 && len(p.accepted) >= n
		for _, pr := range p.accepted {
			ok = ok && (pr.dead || pr.budget == 0 && pr.waiting)
		}
		wake := p.wake
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			p.t.Fatalf("the %d transfers did not all reach the proxy's hold (%d connections, %d bytes forwarded)", n, p.conns(), p.bytes())
		}
	}
}

// bytes returns how many bytes went through in the data direction.
func (p *proxy) bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded
}

// reset resets every connection the proxy holds, on both sides: each peer
// sees ECONNRESET, as from a middlebox or a peer that aborted.
func (p *proxy) reset() {
	p.mu.Lock()
	pairs := p.pairs
	p.pairs = nil
	for _, pr := range pairs {
		pr.dead = true
	}
	p.changed()
	p.mu.Unlock()
	for _, pr := range pairs {
		abort(pr.client)
		abort(pr.server)
	}
}

// resetConn resets the k-th connection the proxy accepted (from 0), on
// both sides, and leaves the others alone.
func (p *proxy) resetConn(k int) {
	p.t.Helper()
	p.mu.Lock()
	if k >= len(p.accepted) {
		p.mu.Unlock()
		p.t.Fatalf("the proxy accepted %d connections; no connection %d to reset", len(p.accepted), k)
	}
	pr := p.accepted[k]
	pr.dead = true
	p.changed()
	p.mu.Unlock()
	abort(pr.client)
	abort(pr.server)
}

// conns returns how many connections the proxy has accepted.
func (p *proxy) conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.accepted)
}

func abort(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.changed()
	p.mu.Unlock()
	p.ln.Close()
	p.reset()
	p.wg.Wait()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		d := net.Dialer{Control: smallRcvBuf, Timeout: 10 * time.Second}
		s, err := d.Dial("tcp", p.target)
		if err != nil {
			abort(c.(*net.TCPConn))
			continue
		}
		pr := &pair{client: c.(*net.TCPConn), server: s.(*net.TCPConn)}
		p.mu.Lock()
		pr.budget = p.each
		if p.closed {
			p.mu.Unlock()
			abort(pr.client)
			abort(pr.server)
			return
		}
		p.pairs = append(p.pairs, pr)
		p.accepted = append(p.accepted, pr)
		p.changed()
		p.mu.Unlock()
		src, dst := pr.client, pr.server
		if p.down {
			src, dst = dst, src
		}
		p.wg.Add(2)
		go p.forward(pr, src, dst, true)
		go p.forward(pr, dst, src, false)
	}
}

// budgetOf returns the budget pr's data direction draws on: its own
// under holdEach, the proxy's otherwise. p.mu is held.
func (p *proxy) budgetOf(pr *pair) *int64 {
	if p.each >= 0 {
		return &pr.budget
	}
	return &p.budget
}

// take reserves up to n bytes of budget for pr's data direction; it waits
// while there is none. ok is false once pr is dead.
func (p *proxy) take(pr *pair, n int) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for *p.budgetOf(pr) == 0 && !pr.dead && !p.closed {
		p.waiting++
		pr.waiting = true
		wake := p.wake
		p.changed()
		p.mu.Unlock()
		<-wake
		p.mu.Lock()
		p.waiting--
		pr.waiting = false
	}
	if pr.dead || p.closed {
		return 0, false
	}
	if b := p.budgetOf(pr); *b > 0 {
		n = int(min(int64(n), *b))
		*b -= int64(n)
	}
	return n, true
}

// giveBack returns pr's unused budget and counts what was forwarded.
func (p *proxy) giveBack(pr *pair, unused, forwarded int) {
	p.mu.Lock()
	if b := p.budgetOf(pr); *b >= 0 {
		*b += int64(unused)
	}
	p.forwarded += int64(forwarded)
	p.changed()
	p.mu.Unlock()
}

// forward copies src to dst. The data direction (metered) honours the
// budget. An end of stream is passed on as a half close; any other error,
// on either side, resets both connections, so that a reset reaches the
// other peer as a reset.
func (p *proxy) forward(pr *pair, src, dst *net.TCPConn, metered bool) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n := len(buf)
		if metered {
			var ok bool
			if n, ok = p.take(pr, n); !ok {
				return
			}
		}
		k, rerr := src.Read(buf[:n])
		var werr error
		if k > 0 {
			_, werr = dst.Write(buf[:k])
		}
		if metered {
			p.giveBack(pr, n-k, k)
		}
		switch {
		case werr != nil || (rerr != nil && !errors.Is(rerr, io.EOF)):
			p.mu.Lock()
			dead := pr.dead
			pr.dead = true
			p.changed()
			p.mu.Unlock()
			if !dead {
				abort(pr.client)
				abort(pr.server)
			}
			return
		case rerr != nil:
			dst.CloseWrite()
			return
		}
	}
}
