//go:build !unix

package session

// nonblock is O_NONBLOCK where it exists.
const nonblock = 0
