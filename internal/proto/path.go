package proto

import "strings"

// CheckPath accepts a relative, '/'-separated path that names something
// inside the transfer's root: not empty, not absolute, no "." or ".."
// components, no empty components, no NUL or backslash, no component
// longer than MaxName. It is the receiver's first line of defence; the
// second is os.Root, which also refuses paths through symlinks that leave
// the root.
func CheckPath(p string) error {
	switch {
	case p == "":
		return malformed("empty path")
	case len(p) > MaxPath:
		return malformed("path of %d bytes", len(p))
	case p[0] == '/':
		return malformed("absolute path %q", p)
	case strings.ContainsAny(p, "\x00\\"):
		return malformed("path %q has a NUL or a backslash", p)
	}
	for c := range strings.SplitSeq(p, "/") {
		switch {
		case c == "":
			return malformed("path %q has an empty component", p)
		case c == "." || c == "..":
			return malformed("path %q has a %q component", p, c)
		case len(c) > MaxName:
			return malformed("path %q has a component of %d bytes", p, len(c))
		}
	}
	return nil
}
