//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package bench

import "os"

// IsTerminal reports false on this platform: no progress is shown.
func IsTerminal(*os.File) bool { return false }
