//go:build unix && !(linux || darwin || freebsd || netbsd)

package part

import "errors"

// Locking and Versioning say whether this system keeps a part's lock and
// version: not here (no flock(2) or user extended attributes in
// golang.org/x/sys/unix), so two transfers can write one name and no part
// is ever continued.
const (
	Locking    = false
	Versioning = false
)

var errNoVersions = errors.New("no user extended attributes on this system")

func lock(int) error                  { return nil }
func putVersion(int, Version) error   { return errNoVersions }
func getVersion(int) (Version, error) { return Version{}, errNoVersions }
