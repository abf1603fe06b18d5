//go:build darwin || dragonfly || freebsd || openbsd

// The systems whose cork is TCP_NOPUSH: darwin, dragonfly, freebsd, openbsd.

package zerocopy

import "golang.org/x/sys/unix"

// corkOption is the socket option that holds partial segments back. Unlike
// Linux's TCP_CORK, clearing TCP_NOPUSH on some systems does not push what is
// queued at once; restoring TCP_NODELAY afterwards does.
const corkOption = unix.TCP_NOPUSH

// corkNeedsNodelayOff says whether TCP_NODELAY must be cleared while corked:
// with TCP_NODELAY set, TCP_NOPUSH does not hold small writes back, and
// restoring TCP_NODELAY afterwards is what pushes the last partial segment.
const corkNeedsNodelayOff = true
