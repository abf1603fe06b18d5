package bench

import (
	"os"
	"runtime"
)

// HostInfo describes a machine taking part in a benchmark.
type HostInfo struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	// Kernel is the kernel's name and release ("Linux 6.18.44"), or empty
	// where it is not known.
	Kernel string `json:"kernel,omitempty"`
	// CPU is the processor's model name, or empty where it is not known.
	CPU   string `json:"cpu,omitempty"`
	Cores int    `json:"cores"`
}

// LocalHost describes the machine it runs on.
func LocalHost() HostInfo {
	h := HostInfo{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU()}
	h.Hostname, _ = os.Hostname()
	h.Kernel = kernelRelease()
	h.CPU = cpuModel()
	return h
}
