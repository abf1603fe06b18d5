//go:build linux || darwin || dragonfly || freebsd || openbsd

// The systems with a cork socket option: TCP_CORK on linux (cork_linux.go),
// TCP_NOPUSH on darwin, dragonfly, freebsd and openbsd (cork_nopush.go).

package zerocopy

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// cork holds back partial TCP segments until uncork is called, so that a
// header, the body and a trailer leave in full segments. Where the cork does
// not override TCP_NODELAY (the BSDs and macOS; nginx clears it too), it is
// cleared first and restored by uncork; Linux needs only the two
// setsockopt calls of the cork itself. On any failure the socket is left as
// it was and the send goes on uncorked.
func (t *transfer) cork() (uncork func(), err error) {
	return corkConn(t.conn, &t.stats.Syscalls)
}

// corkConn corks the socket behind rc, counting its system calls in
// syscalls.
func corkConn(rc syscall.RawConn, syscalls *int64) (uncork func(), err error) {
	var nodelay int
	var serr error
	err = rc.Control(func(fd uintptr) {
		s := int(fd)
		if !corkNeedsNodelayOff {
			if serr = unix.SetsockoptInt(s, unix.IPPROTO_TCP, corkOption, 1); serr != nil {
				serr = os.NewSyscallError("setsockopt cork", serr)
			}
			*syscalls++
			return
		}
		nodelay, serr = unix.GetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		*syscalls++
		if serr != nil {
			serr = os.NewSyscallError("getsockopt TCP_NODELAY", serr)
			return
		}
		if nodelay != 0 {
			serr = unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, 0)
			*syscalls++
			if serr != nil {
				serr = os.NewSyscallError("setsockopt TCP_NODELAY", serr)
				return
			}
		}
		if serr = unix.SetsockoptInt(s, unix.IPPROTO_TCP, corkOption, 1); serr != nil {
			serr = os.NewSyscallError("setsockopt cork", serr)
			if nodelay != 0 {
				unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			}
		}
		*syscalls++
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return func() {
		rc.Control(func(fd uintptr) {
			s := int(fd)
			unix.SetsockoptInt(s, unix.IPPROTO_TCP, corkOption, 0)
			*syscalls++
			if nodelay != 0 {
				unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
				*syscalls++
			}
		})
	}, nil
}
