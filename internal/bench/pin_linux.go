package bench

import (
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// pinCPUs returns two CPUs this process may run on, for the sender and the
// receiver, or ok false when it has fewer than two.
func pinCPUs() (sender, receiver int, ok bool) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, 0, false
	}
	var cpus []int
	for i := 0; i < len(set)*64 && len(cpus) < 2; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) < 2 {
		return 0, 0, false
	}
	return cpus[0], cpus[1], true
}

// startOn starts cmd confined to one CPU (cpu < 0: anywhere). A child
// inherits the affinity of the thread that forks it, and so do all the
// threads it makes later, so the calling thread is locked, confined, used
// to start cmd and given its mask back (as taskset does before exec).
func startOn(cmd *exec.Cmd, cpu int) error {
	if cpu < 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return cmd.Start()
	}
	var one unix.CPUSet
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		runtime.UnlockOSThread()
		return cmd.Start()
	}
	err := cmd.Start()
	if unix.SchedSetaffinity(0, &old) == nil {
		runtime.UnlockOSThread()
	}
	// Otherwise the thread stays locked to this goroutine, and Go ends it
	// when the goroutine exits rather than reuse a confined thread.
	return err
}
