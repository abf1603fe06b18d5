package tree

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// readlinkat calls readlinkat(2), which golang.org/x/sys/unix does not
// wrap here though it numbers it.
func readlinkat(dfd int, name string, b []byte) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dfd), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
