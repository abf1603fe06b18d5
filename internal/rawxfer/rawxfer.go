// Package rawxfer moves one file over one TCP connection with no framing at
// all, as the seed article's sender/receiver pair (sfl) did: the bytes on the
// wire are the file's bytes, so nc or any other plain TCP tool can be the
// other end.
//
// Raw mode has no header, so the receiver learns the end of the file only
// from the end of the stream. To keep a failed send from passing for a
// complete file, a sender that fails resets the connection (SO_LINGER 0)
// instead of closing it, and a receiver that sees a reset or any other error
// leaves no file under the final name.
package rawxfer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// Endpoint says how to get the one connection: Listen on an address and
// accept one peer, or Dial an address.
type Endpoint struct {
	Listen string
	Dial   string
	// OnListen, if set, is called with the bound address once listening
	// (useful with port 0).
	OnListen func(net.Addr)
	// DialTimeout bounds Dial (30 s if zero).
	DialTimeout time.Duration
}

// Connect returns the connection the endpoint describes. A listener accepts
// exactly one peer and is closed at once, like the seed's backlog-1 server.
func Connect(ctx context.Context, ep Endpoint) (net.Conn, error) {
	switch {
	case ep.Listen != "" && ep.Dial != "":
		return nil, errors.New("give either an address to listen on or one to connect to, not both")
	case ep.Dial != "":
		d := net.Dialer{Timeout: ep.DialTimeout}
		if d.Timeout == 0 {
			d.Timeout = 30 * time.Second
		}
		c, err := d.DialContext(ctx, "tcp", ep.Dial)
		if err != nil {
			return nil, err
		}
		return c, nil
	case ep.Listen != "":
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", ep.Listen)
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		if ep.OnListen != nil {
			ep.OnListen(ln.Addr())
		}
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		defer stop()
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		return c, nil
	}
	return nil, errors.New("no address: give one to listen on or one to connect to")
}

// Send sends the whole of f over conn and closes conn: in order if the send
// succeeded, with a reset if it failed, so that the receiver cannot take a
// truncated file for a complete one.
func Send(ctx context.Context, conn net.Conn, f *os.File, opts zerocopy.SendOptions) (zerocopy.Stats, error) {
	st, err := zerocopy.SendFile(ctx, conn, f, 0, -1, &opts)
	if err != nil {
		abort(conn)
		return st, err
	}
	if err := conn.Close(); err != nil {
		return st, fmt.Errorf("close: %w", err)
	}
	return st, nil
}

// abort closes conn with a reset.
func abort(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// Receive stores everything that arrives on conn until end of stream. out
// is a path, or "-" for stdout. A regular file is written as
// out.zcopy-part and renamed to out only when the stream ended cleanly; on
// any error the partial file is removed. A path naming an existing device
// or FIFO (such as /dev/null) is written directly.
func Receive(ctx context.Context, conn net.Conn, out string, stdout *os.File, opts zerocopy.ReceiveOptions) (zerocopy.Stats, error) {
	defer conn.Close()
	if out == "-" {
		return zerocopy.ReceiveFile(ctx, stdout, conn, -1, -1, &opts)
	}
	if fi, err := os.Stat(out); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return zerocopy.Stats{}, fmt.Errorf("%s is a directory", out)
		}
		f, err := os.OpenFile(out, os.O_WRONLY, 0)
		if err != nil {
			return zerocopy.Stats{}, err
		}
		st, err := zerocopy.ReceiveFile(ctx, f, conn, -1, -1, &opts)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		return st, err
	}
	part := filepath.Join(filepath.Dir(out), filepath.Base(out)+".zcopy-part")
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return zerocopy.Stats{}, err
	}
	st, err := zerocopy.ReceiveFile(ctx, f, conn, 0, -1, &opts)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, out)
	}
	if err != nil {
		os.Remove(part)
		return st, fmt.Errorf("%w (nothing kept under %s)", err, out)
	}
	return st, nil
}
