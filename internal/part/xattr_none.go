//go:build openbsd || dragonfly

package part

import "errors"

// Versioning says whether this system can keep a part's version: not here
// (golang.org/x/sys/unix has no extended attributes for it), so no part is
// ever continued.
const Versioning = false

var errNoVersions = errors.New("no user extended attributes on this system")

func putVersion(int, Version) error   { return errNoVersions }
func getVersion(int) (Version, error) { return Version{}, errNoVersions }
func dropVersion(int)                 {}
