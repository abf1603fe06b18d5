//go:build !linux

package bench

// kernelRelease is not looked up on this platform.
func kernelRelease() string { return "" }

// cpuModel is not looked up on this platform.
func cpuModel() string { return "" }
