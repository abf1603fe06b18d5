package httpserve

import (
	"io/fs"
	"os"
	"path"
	"strings"
)

// maxLinks bounds the symbolic links followed while resolving a name, as
// the kernel's own bound (40, MAXSYMLINKS) does; past it, opening the name
// fails with ELOOP anyway.
const maxLinks = 40

// leadsToDotfile reports whether name (relative to root, cleaned, its own
// segments checked already) reaches a dotfile or a dot-directory through a
// symbolic link: "envlink" -> ".env", "gitlink/config" with "gitlink" ->
// ".git", "a/up" -> "../.secret". Without Config.Dotfiles such a name is
// not served, as the dotfile it leads to is not: the rule is about what is
// served, not how it is named. It costs one lstat a segment (and a
// readlink a link); the cache calls it only when it opens a name afresh,
// and a cached name whose link is later pointed at a dotfile leads to
// another file, which its revalidation notices. An error (a segment
// missing, a link out of the root) answers false: opening the name then
// fails on its own.
func leadsToDotfile(root *os.Root, name string) bool {
	todo := strings.Split(name, "/")
	var at []string // the segments resolved so far, none a link
	links := 0
	for len(todo) > 0 {
		seg := todo[0]
		todo = todo[1:]
		switch {
		case seg == "" || seg == ".":
			continue
		case seg == "..":
			if len(at) > 0 {
				at = at[:len(at)-1]
			}
			continue
		case strings.HasPrefix(seg, "."):
			return true
		}
		p := path.Join(path.Join(at...), seg)
		fi, err := root.Lstat(p)
		if err != nil {
			return false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			at = append(at, seg)
			continue
		}
		if links++; links > maxLinks {
			return false
		}
		target, err := root.Readlink(p)
		if err != nil || path.IsAbs(target) {
			return false // os.Root refuses an absolute link
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return false
}
