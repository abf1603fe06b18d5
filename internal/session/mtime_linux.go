package session

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// setTimes sets f's access and modification times through its descriptor
// (utimensat with AT_EMPTY_PATH), one system call where os.Root.Chtimes by
// name takes three.
func setTimes(f *os.File, t time.Time) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	var uerr error
	if err := rc.Control(func(fd uintptr) {
		uerr = unix.UtimesNanoAt(int(fd), "", ts, unix.AT_EMPTY_PATH)
	}); err != nil {
		return err
	}
	return uerr
}
