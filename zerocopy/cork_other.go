//go:build !(linux || darwin || freebsd || openbsd || dragonfly)

package zerocopy

import (
	"errors"
	"syscall"
)

// cork is unavailable here: the send goes on uncorked.
func (t *transfer) cork() (uncork func(), err error) {
	return nil, errors.ErrUnsupported
}

func corkConn(rc syscall.RawConn, syscalls *int64) (uncork func(), err error) {
	return nil, errors.ErrUnsupported
}
