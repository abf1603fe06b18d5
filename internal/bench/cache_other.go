//go:build !linux

package bench

import (
	"errors"
	"fmt"
)

// canDropCache reports whether dropCache works on this platform.
const canDropCache = false

// dropCache is not implemented on this platform.
func dropCache(path string) error {
	return fmt.Errorf("drop %s from the page cache: %w", path, errors.ErrUnsupported)
}

// residency cannot tell on this platform.
func residency(string) float64 { return -1 }

// kickNetRx has nothing to do on this platform.
func kickNetRx() {}
