package cli

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
)

// bare returns the system's reason inside err's *os.PathError (such as
// "not a directory"), without the name of the call that failed ("mkdirat
// x: ..."): the caller's message names the path as the user typed it
// (issue 18: no Go-internal text reaches the user).
func bare(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// plain is err as the user reads it: a *os.PathError at the top says
// "PATH: REASON", without the system call's name ("lstat PATH: ..."), and
// a *net.OpError "cannot listen on ADDR: REASON" (see netError).
func plain(err error) error {
	switch e := err.(type) {
	case *os.PathError:
		return fmt.Errorf("%s: %w", e.Path, e.Err)
	case *net.OpError:
		return netError(e)
	}
	return err
}

// writable reports why root cannot be written, or nil: it creates a file
// of a random name and removes it, which tells what a permission check
// cannot (root is allowed everything but a read-only mount, a pseudo file
// system or a full disk's quota).
func writable(root *os.Root) error {
	name := ".zcopy-probe-" + rand.Text()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return root.Remove(name)
}
