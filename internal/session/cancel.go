package session

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"
)

// aLongTimeAgo is the deadline that cuts a cancelled session's waits short.
var aLongTimeAgo = time.Unix(1, 0)

// cancelConn is a session's connection once begin has armed it: when ctx
// is done every deadline set on it is in the past, whatever the session
// asks, so a cancelled session's next read or write fails at once. Without
// it an idle timeout pushed ahead after the cancellation (before each
// write, on each step of progress) undid the past deadline that
// cancellation set, and a cancelled send went on writing for megabytes
// (issue 13).
type cancelConn struct {
	net.Conn
	ctx context.Context
}

// cancellable returns conn wrapped in a cancelConn for ctx.
func cancellable(ctx context.Context, conn net.Conn) net.Conn {
	if _, ok := conn.(*cancelConn); ok || ctx.Done() == nil {
		return conn
	}
	return &cancelConn{Conn: conn, ctx: ctx}
}

func (c *cancelConn) SetDeadline(t time.Time) error { return c.set(c.Conn.SetDeadline, t) }

func (c *cancelConn) SetReadDeadline(t time.Time) error { return c.set(c.Conn.SetReadDeadline, t) }

func (c *cancelConn) SetWriteDeadline(t time.Time) error {
	return c.set(c.Conn.SetWriteDeadline, t)
}

// set sets the deadline t, then looks at ctx: a cancellation that came
// before, or while t was being set, had set its past deadline first, and
// gets it back.
func (c *cancelConn) set(f func(time.Time) error, t time.Time) error {
	err := f(t)
	if c.ctx.Err() != nil {
		f(aLongTimeAgo)
	}
	return err
}

// SyscallConn gives the engine the connection's descriptor, so that
// sendfile and splice still see a socket through the wrapper.
func (c *cancelConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}
