package zerocopy

import "golang.org/x/sys/unix"

// corkOption is the socket option that holds partial segments back.
const corkOption = unix.TCP_CORK

// corkNeedsNodelayOff says whether TCP_NODELAY must be cleared while corked.
// Linux has let TCP_CORK override TCP_NODELAY since 2.5.71 and pushes what
// is held when the cork is pulled, so corking costs two setsockopt calls
// rather than five.
const corkNeedsNodelayOff = false
