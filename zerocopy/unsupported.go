package zerocopy

import (
	"errors"
	"fmt"
	"runtime"
)

// unsupported is the error for a method this platform does not have.
func unsupported(m Method) error {
	return fmt.Errorf("%v: %w on %s", m, errors.ErrUnsupported, runtime.GOOS)
}
