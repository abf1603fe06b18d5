//go:build !linux

package bench

import "os/exec"

// pinCPUs reports that this platform cannot confine workers to CPUs.
func pinCPUs() (sender, receiver int, ok bool) { return 0, 0, false }

// startOn starts cmd; cpu is ignored on this platform.
func startOn(cmd *exec.Cmd, cpu int) error { return cmd.Start() }
