package bench

import (
	"net"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canDropCache reports whether dropCache works on this platform.
const canDropCache = true

// dropCache writes the file's dirty pages back and asks the kernel to drop
// its pages from the page cache (posix_fadvise POSIX_FADV_DONTNEED), so
// that the next read comes from the disk. Dirty pages cannot be dropped,
// hence the fdatasync first.
func dropCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return os.NewSyscallError("fdatasync", err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return os.NewSyscallError("fadvise", err)
	}
	return nil
}

// residency returns the fraction of the file's pages that are in the page
// cache (mincore on a mapping of it), or -1 if it cannot tell.
func residency(path string) float64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return -1
	}
	if fi.Size() == 0 {
		return 1
	}
	const window = 256 << 20 // map a bounded piece at a time
	page := int64(os.Getpagesize())
	var pages, resident int64
	vec := make([]byte, window/page)
	for off := int64(0); off < fi.Size(); off += window {
		n := min(window, fi.Size()-off)
		m, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return -1
		}
		np := (n + page - 1) / page
		err = mincore(m, vec[:np])
		unix.Munmap(m)
		if err != nil {
			return -1
		}
		for _, v := range vec[:np] {
			resident += int64(v & 1)
		}
		pages += np
	}
	return float64(resident) / float64(pages)
}

// mincore reports which pages of the mapping m are resident (the low bit
// of each byte of vec). x/sys/unix has no wrapper for it.
func mincore(m, vec []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return os.NewSyscallError("mincore", errno)
	}
	return nil
}

// kickNetRx sends a loopback UDP datagram from each CPU this process may
// run on. Receiving it runs that CPU's network receive softirq, which frees
// the socket buffers other CPUs handed back to it (skb_attempt_defer_free)
// and with them their references to page-cache pages.
func kickNetRx() {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return
	}
	defer c.Close()
	self := c.LocalAddr().(*net.UDPAddr)
	runtime.LockOSThread()
	defer func() {
		if unix.SchedSetaffinity(0, &set) == nil {
			runtime.UnlockOSThread()
		}
	}()
	var buf [1]byte
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if !set.IsSet(cpu) {
			continue
		}
		var one unix.CPUSet
		one.Set(cpu)
		if unix.SchedSetaffinity(0, &one) != nil {
			continue
		}
		if _, err := c.WriteToUDP(buf[:], self); err == nil {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			c.ReadFromUDP(buf[:])
		}
	}
}
