//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The systems that read a terminal's settings with the TIOCGETA ioctl:
// darwin, dragonfly, freebsd, netbsd and openbsd. Linux uses TCGETS
// (term_linux.go); on the rest no progress is shown (term_other.go).

package bench

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal, as progress output wants.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TIOCGETA)
	return err == nil
}
