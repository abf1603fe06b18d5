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
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zcopy/zcopy/internal/oncelistener"
	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/tree"
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
	// AcceptTimeout bounds Listen's wait for its peer: past it, Connect
	// returns an error that wraps ErrNoPeer (0 waits until ctx ends).
	AcceptTimeout time.Duration
}

// ErrNoPeer reports a listening Endpoint whose AcceptTimeout passed with
// no peer.
var ErrNoPeer = errors.New("no peer connected")

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
		l, err := lc.Listen(ctx, "tcp", ep.Listen)
		if err != nil {
			return nil, err
		}
		ln := oncelistener.Wrap(l) // closed by the time this returns
		defer ln.Close()
		if ep.OnListen != nil {
			ep.OnListen(ln.Addr())
		}
		stop := context.AfterFunc(ctx, func() { ln.Close() })
		defer stop()
		if ep.AcceptTimeout > 0 {
			if d, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
				d.SetDeadline(time.Now().Add(ep.AcceptTimeout))
			}
		}
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("%w within %v", ErrNoPeer, ep.AcceptTimeout)
			}
			return nil, err
		}
		return c, nil
	}
	return nil, errors.New("no address: give one to listen on or one to connect to")
}

// ErrChanged reports a regular file that another process wrote or
// truncated while it was sent (tree.Changed): what went out may mix its
// old and new bytes, and raw mode has no way to let the receiver check.
var ErrChanged = errors.New("the file changed while it was sent (its size or mtime differ afterwards); the copy may mix old and new bytes, so the connection was reset")

// Send sends the whole of f over conn and closes conn: in order if the send
// succeeded, with a reset if it failed, so that the receiver cannot take a
// truncated file for a complete one. A regular file that changed during
// the send (ErrChanged) counts as a failure. f may be a pipe or other
// stream (stdin), sent until its end.
func Send(ctx context.Context, conn net.Conn, f *os.File, opts zerocopy.SendOptions) (zerocopy.Stats, error) {
	before, err := f.Stat()
	if err != nil {
		abort(conn)
		return zerocopy.Stats{}, err
	}
	st, err := zerocopy.SendFile(ctx, conn, f, 0, -1, &opts)
	if err == nil && before.Mode().IsRegular() {
		after, serr := f.Stat()
		switch {
		case serr != nil:
			err = serr
		case tree.Changed(before, after):
			err = fmt.Errorf("%s: %w", f.Name(), ErrChanged)
		}
	}
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
// is a path, or "-" for stdout. size, if not negative, is the length the
// file must have: a stream that ends before it, or goes on after it, fails.
//
// A regular file is written through out.zcopy-part (package part: created
// exclusively, never through a symlink, and not written by two receivers
// at once) and renamed to out only when the stream ended cleanly,
// replacing what was there (as a shell's "> out" would, but a symlink at
// out is replaced, not followed); on any error the part is removed. A path
// naming a device or FIFO (such as /dev/null) is written directly, and so
// is a symlink under /dev that leads to one (/dev/stdout).
//
// Without size, the end of the stream is the only end there is: a sender
// killed mid-file whose kernel closed its socket in order cannot be told
// from one that finished. Receive refuses one such case it can recognise:
// a stream that holds exactly a framed zcopy sender's Hello (the peer
// speaks the framed protocol, not raw).
func Receive(ctx context.Context, conn net.Conn, out string, stdout *os.File, size int64, opts zerocopy.ReceiveOptions) (zerocopy.Stats, error) {
	defer conn.Close()
	if out == "-" {
		return receiveInto(ctx, stdout, -1, conn, size, opts)
	}
	if direct, err := writesDirectly(out); err != nil {
		return zerocopy.Stats{}, err
	} else if direct {
		f, err := os.OpenFile(out, os.O_WRONLY, 0)
		if err != nil {
			return zerocopy.Stats{}, err
		}
		st, err := receiveInto(ctx, f, -1, conn, size, opts)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		return st, err
	}
	root, err := os.OpenRoot(filepath.Dir(out))
	if err != nil {
		return zerocopy.Stats{}, err
	}
	defer root.Close()
	dir, err := part.OpenDir(root, ".")
	if err != nil {
		return zerocopy.Stats{}, err
	}
	defer dir.Close()
	base := filepath.Base(out)
	f, _, _, err := part.Open(dir, base+part.Suffix, part.Version{}, false)
	if err != nil {
		if errors.Is(err, part.ErrBusy) {
			return zerocopy.Stats{}, fmt.Errorf("%s: another transfer is receiving it right now (%s is locked)", out, base+part.Suffix)
		}
		return zerocopy.Stats{}, err
	}
	st, err := receiveInto(ctx, f.File, 0, conn, size, opts)
	if err == nil && size < 0 {
		err = framedHello(f.File, st.Bytes)
	}
	if err == nil {
		mode := uint32(0o600)
		if u, ok := part.Umask(); ok {
			mode = 0o666 &^ u
		}
		err = f.Chmod(os.FileMode(mode))
	}
	if err != nil {
		f.Discard()
		return st, fmt.Errorf("%w (nothing kept under %s)", err, out)
	}
	if err := f.Place(base, true); err != nil {
		return st, fmt.Errorf("%w (nothing kept under %s)", err, out)
	}
	return st, nil
}

// CheckOutput says why Receive could not store a stream in out, or nil:
// out is a directory, or the directory that would hold out.zcopy-part
// does not exist or cannot be written (tried by creating and removing a
// file there, which holds for root and read-only mounts alike). A
// receiver calls it before it listens or connects, so that a bad -o
// fails at once rather than when the peer arrives (issue 18). "-", a
// device and a FIFO are written directly and are not tried.
func CheckOutput(out string) error {
	if out == "-" {
		return nil
	}
	if direct, err := writesDirectly(out); err != nil || direct {
		return err
	}
	dir := filepath.Dir(out)
	probe, err := os.CreateTemp(dir, ".zcopy-probe-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot write in %s: %w", out, dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// writesDirectly reports whether out names something written in place: a
// device or FIFO, or a symlink under /dev leading to one.
func writesDirectly(out string) (bool, error) {
	fi, err := os.Lstat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.IsDir():
		return false, fmt.Errorf("%s is a directory: -o names the file to write (such as %s)", out, filepath.Join(out, "FILE"))
	case fi.Mode()&os.ModeSymlink != 0:
		if abs, err := filepath.Abs(out); err != nil || !strings.HasPrefix(abs, "/dev/") {
			return false, nil
		}
		if fi, err = os.Stat(out); err != nil {
			return false, err
		}
	}
	return fi.Mode()&(os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe) != 0, nil
}

// ErrSize reports a stream whose length is not the one the receiver was
// told to expect.
var ErrSize = errors.New("the stream's length is not the size expected")

// receiveInto stores the stream in f at off (at f's own position if off
// is negative): all of it, or with size >= 0 exactly size bytes followed
// by the end of the stream.
func receiveInto(ctx context.Context, f *os.File, off int64, conn net.Conn, size int64, opts zerocopy.ReceiveOptions) (zerocopy.Stats, error) {
	st, err := zerocopy.ReceiveFile(ctx, f, conn, off, size, &opts)
	if err != nil || size < 0 {
		if errors.Is(err, io.ErrUnexpectedEOF) && size >= 0 {
			err = fmt.Errorf("%w: the stream ended after %d of %d bytes", ErrSize, st.Bytes, size)
		}
		return st, err
	}
	// Exactly size bytes came: the stream must end here. A sender that
	// keeps its side open without sending (nc without -N) is given a
	// second, then taken at its word.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	var b [1]byte
	n, rerr := conn.Read(b[:])
	var ne net.Error
	switch {
	case n > 0:
		return st, fmt.Errorf("%w: more than %d bytes arrived", ErrSize, size)
	case rerr == io.EOF, errors.As(rerr, &ne) && ne.Timeout():
		return st, nil
	default:
		return st, fmt.Errorf("after %d bytes: %w", size, rerr)
	}
}

// framedHello refuses a stream that is exactly what a framed zcopy sender
// writes before it waits for an answer, and then gives up: its Hello, in
// plaintext, or the TLS ClientHello of an encrypted one (a single
// handshake record offering zcopy's ALPN, secure.ALPN). The peer runs zcopy
// send without --raw.
func framedHello(f *os.File, n int64) error {
	const most = 16 << 10 // a ClientHello is about 1.5 KiB
	if n != proto.HelloSize && (n < 5 || n > most) {
		return nil
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil
	}
	if h, err := proto.ReadHello(bufio.NewReader(bytes.NewReader(b))); err == nil && h.Role == proto.RoleSender {
		return errors.New("the peer speaks zcopy's framed protocol (zcopy send without --raw): receive with zcopy recv --dir DIR instead")
	}
	if clientHello(b) {
		return errors.New("the peer speaks zcopy's framed protocol, encrypted (zcopy send without --raw): receive with zcopy recv --dir DIR instead")
	}
	return nil
}

// clientHello reports whether b is exactly one TLS handshake record (RFC
// 8446, section 5.1: type 22, legacy version 3.x, a 16-bit length) holding
// a ClientHello (handshake type 1) that offers zcopy's ALPN protocol name
// (length-prefixed, RFC 7301).
func clientHello(b []byte) bool {
	if len(b) < 6 || b[0] != 22 || b[1] != 3 || b[5] != 1 {
		return false
	}
	if int(b[3])<<8|int(b[4]) != len(b)-5 {
		return false
	}
	return bytes.Contains(b, append([]byte{byte(len(secure.ALPN))}, secure.ALPN...))
}
