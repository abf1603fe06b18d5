package bench

import (
	"os"
	"syscall"
)

// selfUsage returns the calling process's CPU time so far
// (GetProcessTimes). Windows keeps no per-process context switch count.
func selfUsage() usage {
	h, err := syscall.GetCurrentProcess()
	if err != nil {
		return usage{}
	}
	var c, e, k, u syscall.Filetime
	if err := syscall.GetProcessTimes(h, &c, &e, &k, &u); err != nil {
		return usage{}
	}
	return usage{UserNs: ticks(u), SysNs: ticks(k), Known: true}
}

// exitedUsage returns a finished child's CPU time.
func exitedUsage(ps *os.ProcessState) usage {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return usage{}
	}
	return usage{UserNs: ticks(ru.UserTime), SysNs: ticks(ru.KernelTime), Known: true}
}

// ticks converts a Filetime that holds a duration (100 ns units) to
// nanoseconds. Filetime.Nanoseconds would subtract the 1601 epoch.
func ticks(f syscall.Filetime) int64 {
	return (int64(f.HighDateTime)<<32 | int64(f.LowDateTime)) * 100
}
