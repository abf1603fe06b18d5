package remote

import (
	"errors"
	"strings"
	"unicode"
)

// A Spec is a remote path as scp and rsync take it: [user@]HOST:PATH.
type Spec struct {
	// Login is what ssh is given as the destination: [user@]HOST, with
	// the brackets of an IPv6 address removed.
	Login string
	// Path is the path on HOST, relative to the far login's home unless
	// absolute; "" means the home itself.
	Path string
}

// Host is the host of s without the user: what the local end connects
// to for the data.
func (s Spec) Host() string {
	if i := strings.LastIndexByte(s.Login, '@'); i >= 0 {
		return s.Login[i+1:]
	}
	return s.Login
}

// Parse reports whether arg names a remote path and, if so, splits it. As
// in scp, an argument is remote when a colon comes before any slash and
// is not its first character: "host:dir", "user@host:", "[::1]:dir" and
// "user@[fe80::1%eth0]:d" are remote; "./a:b", "/x:y", "a/b:c" and ":x"
// are local paths (write ./a:b for a local file named a:b).
func Parse(arg string) (Spec, bool) {
	login, rest := "", arg
	if i := strings.IndexByte(arg, '@'); i >= 0 && !strings.ContainsAny(arg[:i], "/:") {
		login, rest = arg[:i+1], arg[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 || strings.ContainsRune(rest[:end], '/') {
			return Spec{}, false
		}
		if end < 2 {
			return Spec{}, false
		}
		return Spec{Login: login + rest[1:end], Path: rest[end+2:]}, true
	}
	colon := strings.IndexByte(rest, ':')
	if colon <= 0 || strings.ContainsRune(rest[:colon], '/') {
		return Spec{}, false
	}
	return Spec{Login: login + rest[:colon], Path: rest[colon+1:]}, true
}

// SplitCommand splits an --ssh value into words as rsync splits -e: at
// runs of white space, except inside single quotes (taken literally) or
// double quotes (where a backslash escapes the next character); a
// backslash outside quotes escapes the next character too.
func SplitCommand(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(rs):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated " + string(quote) + " quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}

// Quote quotes s as one word for a POSIX shell (sh, bash, dash, zsh; the
// far login's shell runs what ssh is given). A leading "~/" (or a lone
// "~") is left outside the quotes so that the far shell expands it to the
// home directory, as it does for scp.
func Quote(s string) string {
	if s == "~" {
		return s
	}
	if rest, ok := strings.CutPrefix(s, "~/"); ok {
		if rest == "" {
			return "~/"
		}
		return "~/" + Quote(rest)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./=:,+@%", r)))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each of args and joins them with spaces: the command line
// ssh hands to the far shell.
func Join(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}
