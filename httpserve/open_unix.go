//go:build unix

package httpserve

import (
	"os"
	"syscall"
)

// openNoBlock opens name with O_NONBLOCK, as nginx does, so that a FIFO
// placed in the served directory cannot park a thread in open(2) waiting
// for a writer; the caller refuses anything that is not a regular file or a
// directory.
func openNoBlock(root *os.Root, name string) (*os.File, error) {
	return root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// setBlocking clears O_NONBLOCK on a regular file. Reads of regular files
// ignore it on Linux, but the engine's splice and sendfile are not promised
// to, so the engine gets the descriptor the same as os.Open gives.
func setBlocking(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("fcntl", serr)
	}
	return nil
}
