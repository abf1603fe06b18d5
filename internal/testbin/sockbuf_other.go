//go:build !unix && !windows

package testbin

// Here the buffers keep the system's size: a relay holds a transfer at
// the same point, with more in flight.
const soRcvBuf, soSndBuf = 0, 0

func setsockopt(fd uintptr, opt, n int) error { return nil }
