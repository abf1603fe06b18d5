package bench

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqData is struct ifreq with its union holding a pointer, as
// SIOCETHTOOL wants.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// offloads asks the kernel (SIOCETHTOOL) whether the interface does
// scatter-gather and transmit checksum offload.
func offloads(name string) (sg, csum, ok bool) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, false, false
	}
	defer unix.Close(fd)
	get := func(cmd uint32) (bool, bool) {
		v := ethtoolValue{cmd: cmd}
		var ifr ifreqData
		copy(ifr.name[:unix.IFNAMSIZ-1], name)
		ifr.data = unsafe.Pointer(&v)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		return v.data != 0, errno == 0
	}
	sg, ok1 := get(unix.ETHTOOL_GSG)
	csum, ok2 := get(unix.ETHTOOL_GTXCSUM)
	return sg, csum, ok1 && ok2
}
