package tree

import (
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Exclude is a set of patterns a walk leaves out (zcopy send --exclude),
// with rsync's glob rules as far as doublestar's globs give them: `*`,
// `?`, `[...]` and `{a,b}` within one name, `**` across directories.
//
//   - A pattern without a slash (not counting a trailing one) matches a
//     name at any depth: `*.o` leaves out every file ending in .o.
//   - A pattern with a slash is anchored to the transfer root: it matches
//     the whole path as sent, which starts with the base name of the PATH
//     given (`src/build` for PATH src; a leading slash is allowed and
//     means the same). rsync matches such a pattern, without a leading
//     slash, against the end of the path instead; here write `**/a/b`
//     for that.
//   - A trailing slash matches directories only: `cache/`.
//
// An excluded directory is not listed: nothing under it is sent, and
// nothing under it is warned about. A PATH given on the command line is
// matched too (as rsync does): `--exclude '*.log' app.log` sends nothing.
type Exclude struct {
	pats []pattern
}

type pattern struct {
	glob     string // a doublestar pattern, without its leading and trailing slash
	anchored bool   // matched against the whole path, not the base name
	dirOnly  bool
}

// NewExclude checks patterns and returns the set; nil patterns give an
// Exclude that leaves nothing out.
func NewExclude(patterns []string) (*Exclude, error) {
	x := &Exclude{}
	for _, p := range patterns {
		q := pattern{glob: p}
		if strings.HasSuffix(q.glob, "/") {
			q.glob, q.dirOnly = strings.TrimRight(q.glob, "/"), true
		}
		if strings.HasPrefix(q.glob, "/") {
			q.glob, q.anchored = strings.TrimLeft(q.glob, "/"), true
		}
		q.anchored = q.anchored || strings.Contains(q.glob, "/")
		if q.glob == "" || !doublestar.ValidatePattern(q.glob) {
			return nil, fmt.Errorf("--exclude %q: not a valid pattern", p)
		}
		x.pats = append(x.pats, q)
	}
	return x, nil
}

// Excludes reports whether the item at rel (a path as sent, '/'-separated)
// is left out; dir says it is a directory.
func (x *Exclude) Excludes(rel string, dir bool) bool {
	if x == nil {
		return false
	}
	for _, p := range x.pats {
		if p.dirOnly && !dir {
			continue
		}
		name := rel
		if !p.anchored {
			name = path.Base(rel)
		}
		if doublestar.MatchUnvalidated(p.glob, name) {
			return true
		}
	}
	return false
}

// byName reports whether rel is left out whatever its type, so that a
// walk need not stat it: by a pattern that is not for directories only.
func (x *Exclude) byName(rel string) bool { return x.Excludes(rel, false) }
