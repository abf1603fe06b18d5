//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

// The systems neither term_linux.go nor term_tiocgeta.go covers.

package bench

import "os"

// IsTerminal reports false on this platform: no progress is shown.
func IsTerminal(*os.File) bool { return false }
