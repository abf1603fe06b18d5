package zerocopy

import "golang.org/x/sys/unix"

// corkOption is the socket option that holds partial segments back.
const corkOption = unix.TCP_CORK
