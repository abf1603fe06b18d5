package httpserve

import (
	"math"
	"time"
)

// Read deadlines on the fast path. fasthttp would move a connection's read
// deadline twice a keep-alive request (the idle timeout before it waits,
// the read timeout once a byte came), each a clock read and a runtime
// timer moved under its lock; conn arms them itself instead (Read calls
// armReadDeadline), as lazily as nginx moves its timers
// (NGX_TIMER_LAZY_DELAY in ngx_event_timer.h), and a request that arrives
// in one read, as nearly all do, moves none:
//   - waiting for a connection's first request: ReadHeaderTimeout from its
//     first read (and again from the request's second read, as below);
//   - waiting for a keep-alive request: IdleTimeout from the wait's start,
//     moved only when less than 7/8 of it is left, so the wait ends between
//     7/8 and 1 IdleTimeout after the last response;
//   - a request that needs a second read (a header in pieces, a body, a
//     request begun in what the stack read ahead): ReadHeaderTimeout from
//     that read, for the rest of the request. A request is under way from
//     its first byte, read or found in the stack's buffer (markActive).
//
// A client that trickles its header is cut as before, ReadHeaderTimeout
// after its request's second read. net/http (HTTPS, 32-bit) sets its own
// deadlines: conns it serves have readTimeouts of zero and arm none.

// readTimeouts are the read deadlines a conn arms itself; the zero value
// arms none (net/http arms its own). A timeout of 0 is none.
type readTimeouts struct {
	on           bool
	header, idle time.Duration
}

// What a conn's armed read deadline bounds (conn.readFor).
const (
	readNone    uint8 = iota // nothing armed by armReadDeadline
	readFirst                // the wait for the connection's first request
	readIdle                 // the wait for a keep-alive request
	readRequest              // the rest of a request after its first read
)

// armReadDeadline arms the read deadline the coming read needs, unless the
// one armed does; waiting says the connection waits for a request (it is
// idle). It runs on the serving goroutine only, as Read does.
func (c *conn) armReadDeadline(waiting bool) {
	kind, d := readRequest, c.reads.header
	if waiting {
		kind = readFirst
		if c.keptAlive {
			kind, d = readIdle, c.reads.idle
		}
	}
	if c.readFor == kind && kind != readIdle {
		return // a request's bound runs from its start
	}
	now := time.Since(c.srv.epoch) // monotonic
	if c.readFor == kind && c.readUntil-now >= d-d/8 {
		return // an idle wait's may be up to 1/8 short
	}
	c.readFor = kind
	if d <= 0 {
		c.readUntil = math.MaxInt64
		c.Conn.SetReadDeadline(time.Time{})
		return
	}
	c.readUntil = now + d
	c.Conn.SetReadDeadline(c.srv.epoch.Add(c.readUntil))
}

// SetReadDeadline sets the connection's read deadline; the next read arms
// its own again.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.forgetReadDeadline()
	return c.Conn.SetReadDeadline(t)
}

// forgetReadDeadline records that the read deadline was set by someone
// else than armReadDeadline. Only a conn that arms its own has anything to
// forget, and its deadlines are set from its serving goroutine only.
func (c *conn) forgetReadDeadline() {
	if c.reads.on {
		c.readFor = readNone
	}
}
