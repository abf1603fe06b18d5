//go:build unix

package bench

import (
	"os"
	"syscall"
)

// selfUsage returns the calling process's usage so far (getrusage
// RUSAGE_SELF: all its threads).
func selfUsage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	return fromRusage(&ru)
}

// exitedUsage returns the kernel's accounting of a finished child, as wait4
// reported it.
func exitedUsage(ps *os.ProcessState) usage {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return usage{}
	}
	return fromRusage(ru)
}

func fromRusage(ru *syscall.Rusage) usage {
	return usage{
		UserNs:     ru.Utime.Nano(),
		SysNs:      ru.Stime.Nano(),
		Vcsw:       int64(ru.Nvcsw),
		Ivcsw:      int64(ru.Nivcsw),
		Known:      true,
		CtxswKnown: true,
	}
}
