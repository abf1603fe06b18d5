package part

import (
	"os"
	"strconv"
	"strings"
)

// Umask returns the process's file mode creation mask from
// /proc/self/status (Linux 4.7 and later) without changing it, as
// umask(2) would; ok is false where it cannot be read.
func Umask() (umask uint32, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return uint32(u), err == nil
		}
	}
	return 0, false
}
