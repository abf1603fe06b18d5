package tree

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zcopy/zcopy/internal/proto"
)

// walkDirRef lists a root the plain way, with filepath.WalkDir and a full
// lstat per entry: the order and content Walk must reproduce.
func walkDirRef(t *testing.T, root string) ([]Item, []string) {
	t.Helper()
	var items []Item
	var warns []string
	base := filepath.Base(root)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := base
		if rel != "." {
			name = path.Join(base, filepath.ToSlash(rel))
		}
		if reason := unsendable(name); reason != "" {
			items = append(items, Item{Local: p, Entry: proto.Entry{Kind: proto.KindOmitted, Path: name, Reason: reason}})
			warns = append(warns, fmt.Sprintf("%s: not sent: %s", p, reason))
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		it := Item{Local: p, ID: fileID(fi), nlink: linkCount(fi), Owner: ownerOf(fi), Entry: proto.Entry{Path: name, Mode: modeBits(fi.Mode()), MTime: fi.ModTime().UnixNano()}}
		switch {
		case fi.Mode().IsRegular():
			it.Kind, it.Size, it.Source = proto.KindFile, fi.Size(), it.ID.Tag()
		case fi.IsDir():
			it.Kind = proto.KindDir
		case fi.Mode()&fs.ModeSymlink != 0:
			it.Kind = proto.KindSymlink
			it.Target, _ = os.Readlink(p)
		default:
			warns = append(warns, fmt.Sprintf("%s: left out: %s is not a file, directory or symlink", p, TypeName(fi.Mode().Type())))
			return nil
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return items, warns
}

// makeTree builds a tree wide and deep enough that Walk lists directories
// on several goroutines, with every kind of entry Walk meets.
func makeTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "top")
	for d := range 12 {
		for s := range 3 {
			dir := filepath.Join(root, fmt.Sprintf("d%02d", d), fmt.Sprintf("s%d", s), "deep")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for f := range 5 {
				p := filepath.Join(filepath.Dir(dir), fmt.Sprintf("f%d", f))
				if err := os.WriteFile(p, []byte(strings.Repeat("x", d*s+f)), 0o640); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(root, "empty dir"), 0o700))
	must(os.WriteFile(filepath.Join(root, "empty"), nil, 0o600))
	must(os.WriteFile(filepath.Join(root, "ünï cödé"), []byte("hello"), 0o4755))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "d03", "link")))
	must(os.Symlink("s0", filepath.Join(root, "d04", "rel link")))
	must(os.Symlink(strings.Repeat("long/", 300), filepath.Join(root, "d08", "long link"))) // more than readlinkAt's first buffer
	must(syscall.Mkfifo(filepath.Join(root, "d05", "fifo"), 0o600))
	must(os.MkdirAll(filepath.Join(root, `bad\dir`, "inside"), 0o755))
	must(os.WriteFile(filepath.Join(root, "d06", `bad\name`), nil, 0o600))
	old := time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)
	must(os.Chtimes(filepath.Join(root, "d07", "s1", "f2"), old, old))
	return root
}

func TestWalkMatchesWalkDir(t *testing.T) {
	root := makeTree(t)
	want, wantWarns := walkDirRef(t, root)
	eachResolver(t, "", func(t *testing.T) { walkMatches(t, root, want, wantWarns) })
	omitted := 0
	for _, it := range want {
		if it.Kind == proto.KindOmitted {
			omitted++
		}
	}
	if len(wantWarns) != 3 || omitted != 2 {
		t.Errorf("the tree should give 3 warnings (fifo, two bad names) and 2 omitted items (the bad names), gave %q and %d", wantWarns, omitted)
	}
}

// walkMatches fails the test unless Walk lists root as want, with the
// warnings wantWarns.
func walkMatches(t *testing.T, root string, want []Item, wantWarns []string) {
	t.Helper()
	for range 5 { // the goroutines may finish in any order; the result may not
		var warns []string
		got, err := Walk([]string{root}, func(s string) { warns = append(warns, s) })
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Walk listed %d items, WalkDir %d", len(got), len(want))
		}
		for i := range want {
			if i > 0 && got[i].root == nil {
				t.Fatalf("item %d (%s) does not know the root it was listed under", i, got[i].Path)
			}
			got[i].root = nil
			if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
				t.Fatalf("item %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		if strings.Join(warns, "\n") != strings.Join(wantWarns, "\n") {
			t.Fatalf("warnings:\n got %q\nwant %q", warns, wantWarns)
		}
	}
}

func TestWalkRoots(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.bin")
	os.WriteFile(file, []byte("12345"), 0o644)
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "a"), nil, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink("file.bin", link)
	other := filepath.Join(t.TempDir(), "sub")
	os.Mkdir(other, 0o755)
	bad := filepath.Join(dir, `b\ad`)
	os.WriteFile(bad, nil, 0o644)

	tests := []struct {
		name    string
		roots   []string
		want    []string // Path of each item
		wantErr string
	}{
		{"a file is sent under its name", []string{file}, []string{"file.bin"}, ""},
		{"a directory is the top of its tree", []string{sub}, []string{"sub", "sub/a"}, ""},
		{"a symlink is sent as a link", []string{link}, []string{"link"}, ""},
		{"several roots, in order", []string{file, sub}, []string{"file.bin", "sub", "sub/a"}, ""},
		{"dot takes the directory's name", []string{sub + "/."}, []string{"sub", "sub/a"}, ""},
		{"two roots that would collide", []string{sub, other}, nil, `would both arrive as "sub"`},
		{"the file system root", []string{"/"}, nil, "cannot send the whole file system root"},
		{"a root that is not there", []string{filepath.Join(dir, "nothing")}, nil, "no such file or directory"},
		{"a root the protocol cannot name is omitted", []string{bad, file}, []string{`b\ad`, "file.bin"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, err := Walk(tc.roots, func(string) {})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Path)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWalkStopsAfterAFailure: a failure that ends the walk (one not about
// a single item) stops the listings still to come, and a directory listed
// after it, though it comes first in walk order, is skipped; the walk
// reports the failure, not the skip.
func TestWalkStopsAfterAFailure(t *testing.T) {
	failure := &os.PathError{Op: "open", Path: "top/b", Err: syscall.EMFILE}
	w := &walker{sem: make(chan struct{}, walkers-1)}
	failed := &node{done: make(chan struct{}), err: failure}
	close(failed.done)
	w.fail(failure)
	first := &node{done: make(chan struct{})}
	w.list(first, t.TempDir(), "top/a")
	if first.err != errStopped || len(first.entries) != 0 {
		t.Fatalf("a listing after the failure: err %v, %d entries; want it skipped", first.err, len(first.entries))
	}
	top := &node{done: make(chan struct{}), entries: []entry{
		{Item: Item{Entry: proto.Entry{Kind: proto.KindDir, Path: "top/a"}}, send: true, kid: first},
		{Item: Item{Entry: proto.Entry{Kind: proto.KindDir, Path: "top/b"}}, send: true, kid: failed},
	}}
	close(top.done)
	if _, err := top.flatten(nil, func(string) {}); w.result(err) != failure || err != errStopped {
		t.Errorf("flatten: %v, reported as %v; want the skip reported as %v", err, w.result(err), failure)
	}
}

// BenchmarkWalk lists 100 directories of 100 files each, the tree of small
// files the transfer benchmarks use.
func BenchmarkWalk(b *testing.B) {
	root := filepath.Join(b.TempDir(), "small")
	for d := range 100 {
		dir := filepath.Join(root, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := 0
	for b.Loop() {
		items, err := Walk([]string{root}, func(string) {})
		if err != nil {
			b.Fatal(err)
		}
		n = len(items)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
}

// TestMain doubles as the child process of walkAsChild: with
// ZCOPY_TREE_WALK_CHILD set, the test binary walks the roots it names, as
// the user nobody and with as few descriptors as it asks, prints what the
// walk gave as JSON and exits.
func TestMain(m *testing.M) {
	if spec := os.Getenv("ZCOPY_TREE_WALK_CHILD"); spec != "" {
		os.Exit(walkChild(spec))
	}
	os.Exit(m.Run())
}

// childSpec is what walkAsChild asks of the child, and childResult what
// the child answers.
type childSpec struct {
	Roots   []string
	Nobody  bool // drop to the user nobody before walking (if root)
	NoFiles bool // allow no more descriptors than are open
}

type childResult struct {
	Items []Item
	Warns []string
	Err   string
}

func walkChild(spec string) int {
	var sp childSpec
	if err := json.Unmarshal([]byte(spec), &sp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if sp.Nobody && os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// Every thread, group first: once the user is nobody, it may
		// not change its groups.
		if err := errors.Join(syscall.Setgroups(nil), syscall.Setgid(gid), syscall.Setuid(uid)); err != nil {
			fmt.Fprintln(os.Stderr, "becoming nobody:", err)
			return 2
		}
	}
	if sp.NoFiles {
		// A new descriptor takes the lowest free number: with the
		// limit there, opening one fails.
		probe, err := os.Open(os.DevNull)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		free := probe.Fd()
		probe.Close()
		var lim syscall.Rlimit
		err = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		setLimit(&lim.Cur, free)
		if err = errors.Join(err, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	var res childResult
	items, err := Walk(sp.Roots, func(s string) { res.Warns = append(res.Warns, s) })
	res.Items = items
	if err != nil {
		res.Err = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// setLimit sets an rlimit field, signed on some systems and not on others.
func setLimit[T int64 | uint64](field *T, v uintptr) { *field = T(v) }

// walkAsChild walks roots in a child process (see TestMain) and returns
// what it gave.
func walkAsChild(t *testing.T, sp childSpec) childResult {
	t.Helper()
	spec, _ := json.Marshal(sp)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ZCOPY_TREE_WALK_CHILD="+string(spec))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the walking child: %v\n%s", err, stderr.String())
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("the walking child said %q: %v", out, err)
	}
	return res
}

// openToAll returns a new directory that the user nobody can reach (t's
// temporary directories are open to their owner only).
func openToAll(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// describe renders items one a line: kind and path, and an omitted item's
// reason.
func describe(items []Item) []string {
	var lines []string
	for _, it := range items {
		l := fmt.Sprintf("%v %s", it.Kind, it.Path)
		if it.Kind == proto.KindOmitted {
			l += ": " + it.Reason
		}
		lines = append(lines, l)
	}
	return lines
}

// omittedWarnings returns the warning Walk must give for each omitted
// item, in order.
func omittedWarnings(items []Item) []string {
	var warns []string
	for _, it := range items {
		if it.Kind == proto.KindOmitted {
			warns = append(warns, fmt.Sprintf("%s: not sent: %s", it.Local, it.Reason))
		}
	}
	return warns
}

// deepDirs makes, under the directory top, a chain of directories whose
// path relative to top's parent is exactly n bytes, with the empty files
// named in the last, and returns that path. The components are short, and
// the chain is made one level at a time, so that no system call sees a
// path longer than the system allows.
func deepDirs(t *testing.T, top string, n int, files ...string) string {
	t.Helper()
	rel := filepath.Base(top)
	r, err := os.OpenRoot(top)
	if err != nil {
		t.Fatal(err)
	}
	for len(rel) < n {
		c := min(200, n-len(rel)-1)
		if c < 1 { // one byte left: lengthen the last step instead
			t.Fatalf("cannot make a path of exactly %d bytes", n)
		}
		if rest := n - len(rel) - 1 - c; rest > 0 && rest < 2 {
			c-- // leave room for a last component of two bytes or more
		}
		name := strings.Repeat("d", c)
		if err := r.Mkdir(name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := r.OpenRoot(name)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		r = next
		rel += "/" + name
	}
	defer r.Close()
	for _, f := range files {
		if err := r.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return rel
}

// TestWalkOmits: what the walk finds and cannot send (it vanished, it
// changed kind under the walk, its name cannot cross) is an omitted item
// in its place, with its reason and a warning, and the walk goes on. The
// races are made with the test hooks, at the moment they can happen.
func TestWalkOmits(t *testing.T) {
	const (
		vanished = "vanished while the tree was listed"
		slash    = "the protocol cannot carry a backslash in a name"
		replaced = "it or a directory above it was replaced while the tree was listed, and not by a directory (a symlink is not followed)"
	)
	// The tree each case starts from; want lists it as Walk gives it.
	base := func(t *testing.T) string {
		top := filepath.Join(t.TempDir(), "top")
		for _, d := range []string{"d/sub"} {
			if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"a", "d/f1", "d/f2", "d/f3", "d/sub/x", "z"} {
			if err := os.WriteFile(filepath.Join(top, f), []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("f1", filepath.Join(top, "d/link")); err != nil {
			t.Fatal(err)
		}
		return top
	}
	full := []string{"dir top", "file top/a", "dir top/d", "file top/d/f1", "file top/d/f2", "file top/d/f3",
		"symlink top/d/link", "dir top/d/sub", "file top/d/sub/x", "file top/z"}
	// replace returns full with the line for path replaced by with
	// (nothing, if with is empty), and the lines under path dropped.
	replace := func(path string, with ...string) []string {
		var out []string
		for _, l := range full {
			_, p, _ := strings.Cut(l, " ")
			switch {
			case p == path:
				out = append(out, with...)
			case strings.HasPrefix(p, path+"/"):
			default:
				out = append(out, l)
			}
		}
		return out
	}
	// swap moves the directory p, in the tree under top, out of it (next
	// to top, as moved) and puts a symlink to target in its place.
	swap := func(top, p, target string) error {
		return errors.Join(os.Rename(p, filepath.Join(filepath.Dir(top), "moved")), os.Symlink(target, p))
	}
	at := func(top, rel string, do func(p string) error) func(string) {
		return func(local string) {
			if local == filepath.Join(top, rel) {
				if err := do(local); err != nil {
					t.Error(err)
				}
			}
		}
	}
	tests := []struct {
		name string
		// setup changes the tree or sets hooks, and returns the roots to
		// walk and the items wanted (nil: full).
		setup func(t *testing.T, top string) ([]string, []string)
	}{
		{"a file that vanished between readdir and lstat", func(t *testing.T, top string) ([]string, []string) {
			hookListed = at(top, "d", func(string) error { return os.Remove(filepath.Join(top, "d/f2")) })
			return nil, replace("top/d/f2", "omitted top/d/f2: "+vanished)
		}},
		{"a directory that vanished between readdir and lstat", func(t *testing.T, top string) ([]string, []string) {
			hookListed = at(top, "d", func(string) error { return os.RemoveAll(filepath.Join(top, "d/sub")) })
			return nil, replace("top/d/sub", "omitted top/d/sub: "+vanished)
		}},
		{"a directory that vanished before it was listed", func(t *testing.T, top string) ([]string, []string) {
			hookStatted = at(top, "d/sub", os.RemoveAll)
			return nil, replace("top/d/sub", "omitted top/d/sub: "+vanished)
		}},
		{"a directory replaced by a symlink before it was listed is not followed", func(t *testing.T, top string) ([]string, []string) {
			hookStatted = at(top, "d/sub", func(p string) error { return swap(top, p, "../../moved") })
			return nil, replace("top/d/sub", "omitted top/d/sub: "+replaced)
		}},
		{"a directory above one not yet listed, swapped for a symlink out of the tree, is not followed", func(t *testing.T, top string) ([]string, []string) {
			// Issue 14: d is listed (sub is a directory in it), then
			// swapped for a symlink to a directory outside the tree
			// that holds sub/secret; sub must not be listed through it.
			outside := filepath.Join(filepath.Dir(top), "outside")
			mk(t, outside, "sub/secret")
			hookListed = at(top, "d", func(p string) error { return swap(top, p, outside) })
			return nil, replace("top/d/sub", "omitted top/d/sub: "+replaced)
		}},
		{"a root swapped for a symlink once stat'ed is not followed", func(t *testing.T, top string) ([]string, []string) {
			hookStatted = at(top, "", func(p string) error { return swap(top, p, "moved") })
			return nil, []string{"omitted top: " + replaced}
		}},
		{"a root swapped for another directory once stat'ed is not listed", func(t *testing.T, top string) ([]string, []string) {
			hookStatted = at(top, "", func(p string) error {
				return errors.Join(os.Rename(p, filepath.Join(filepath.Dir(p), "moved")), os.Mkdir(p, 0o755))
			})
			return nil, []string{"omitted top: " + replaced}
		}},
		{"a symlink that vanished before its target was read", func(t *testing.T, top string) ([]string, []string) {
			hookStatted = at(top, "d/link", os.Remove)
			return nil, replace("top/d/link", "omitted top/d/link: "+vanished)
		}},
		{"a symlink replaced by a file before its target was read", func(t *testing.T, top string) ([]string, []string) {
			hookStatted = at(top, "d/link", func(p string) error { return errors.Join(os.Remove(p), os.WriteFile(p, nil, 0o644)) })
			return nil, replace("top/d/link", "omitted top/d/link: cannot read the symlink: invalid argument")
		}},
		{"a backslash in a file's name", func(t *testing.T, top string) ([]string, []string) {
			if err := os.WriteFile(filepath.Join(top, `d/f2\x`), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return nil, replace("top/d/f2", "file top/d/f2", `omitted top/d/f2\x: `+slash)
		}},
		{"a backslash in a directory's name leaves its tree out", func(t *testing.T, top string) ([]string, []string) {
			if err := os.MkdirAll(filepath.Join(top, `d/sub\x/inner`), 0o755); err != nil {
				t.Fatal(err)
			}
			return nil, slices.Insert(slices.Clone(full), len(full)-1, `omitted top/d/sub\x: `+slash)
		}},
		{"a root whose name has a backslash", func(t *testing.T, top string) ([]string, []string) {
			bad := filepath.Join(filepath.Dir(top), `to\p`)
			if err := os.Rename(top, bad); err != nil {
				t.Fatal(err)
			}
			return []string{bad}, []string{`omitted to\p: ` + slash}
		}},
		{"a path longer than the protocol carries", func(t *testing.T, top string) ([]string, []string) {
			// The deepest directory's own path must fit the system's
			// limit (4096 bytes with the NUL) for the walk to list it.
			prefix := len(filepath.Dir(top)) + 1
			if prefix > 150 {
				t.Skipf("the temporary directory's path is too long (%d bytes)", prefix)
			}
			long := strings.Repeat("l", 250) // deep/long: 4151 bytes
			deep := "top/d/" + deepDirs(t, filepath.Join(top, "d/sub"), 3900-len("top/d/"), "ok", long)
			want := slices.Clone(full[:8]) // to top/d/sub
			for p := deep; p != "top/d/sub"; p = path.Dir(p) {
				want = slices.Insert(want, 8, "dir "+p)
			}
			return nil, append(want,
				"omitted "+shown(deep+"/"+long)+": the path is 4151 bytes long; the protocol carries at most 4096",
				"file "+deep+"/ok",
				"file top/d/sub/x",
				"file top/z")
		}},
	}
	for _, tc := range tests {
		eachResolver(t, tc.name, func(t *testing.T) {
			defer func() { hookListed, hookStatted = nil, nil }()
			top := base(t)
			roots, want := tc.setup(t, top)
			if roots == nil {
				roots = []string{top}
			}
			var warns []string
			items, err := Walk(roots, func(s string) { warns = append(warns, s) })
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if got := describe(items); !slices.Equal(got, want) {
				t.Errorf("Walk gave\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
			if w := omittedWarnings(items); len(w) != 1 || !slices.Equal(warns, w) {
				t.Errorf("warnings %q, want %q, one for the one omitted item", warns, w)
			}
			for _, it := range items {
				if it.Kind != proto.KindOmitted {
					if err := proto.CheckPath(it.Path); err != nil {
						t.Errorf("an item the protocol cannot carry: %v", err)
					}
				} else if len(it.Path) > proto.MaxPath || !utf8.ValidString(it.Path) {
					t.Errorf("an omitted item's name cannot be shown whole: %d bytes", len(it.Path))
				}
			}
		})
	}
}

// TestWalkLeavesOutSpecialFiles: devices, FIFOs and sockets inside a tree
// are warned about and left out, as rsync without -D and scp do; they are
// not omitted items, so a tree that holds them can arrive complete.
func TestWalkLeavesOutSpecialFiles(t *testing.T) {
	top := filepath.Join(t.TempDir(), "top")
	if err := os.Mkdir(top, 0o755); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]uint32{"fifo": syscall.S_IFIFO, "socket": syscall.S_IFSOCK}
	if os.Geteuid() == 0 {
		kinds["null"] = syscall.S_IFCHR // as /dev/null: 1, 3
	}
	for name, kind := range kinds {
		if err := syscall.Mknod(filepath.Join(top, name), kind|0o600, 1<<8|3); err != nil {
			t.Fatalf("mknod %s: %v", name, err)
		}
	}
	var warns []string
	items, err := Walk([]string{top}, func(s string) { warns = append(warns, s) })
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(items); !slices.Equal(got, []string{"dir top"}) {
		t.Errorf("Walk gave %q; want the directory alone", got)
	}
	if len(warns) != len(kinds) {
		t.Fatalf("warnings %q; want one for each of %d", warns, len(kinds))
	}
	for _, w := range warns {
		if !strings.Contains(w, "left out: a ") || !strings.HasSuffix(w, " is not a file, directory or symlink") || strings.Contains(w, "------") {
			t.Errorf("warning %q", w)
		}
	}
}

// TestWalkAsNobody: a walk by a user who may not read everything under
// its roots (the test's child process runs as nobody: root reads all)
// omits what it cannot list and goes on with the rest.
func TestWalkAsNobody(t *testing.T) {
	const denied = "cannot list the directory: permission denied"
	tests := []struct {
		name    string
		setup   func(t *testing.T, top string) []string // makes the tree, returns the roots
		want    []string
		wantErr string
	}{
		{"an unreadable directory mid-tree", func(t *testing.T, top string) []string {
			mk(t, top, "a", "locked/secret", "locked/deeper/x", "z")
			chmod(t, filepath.Join(top, "locked"), 0)
			return []string{top}
		}, []string{"dir top", "file top/a", "omitted top/locked: " + denied, "file top/z"}, ""},
		{"an unreadable root directory", func(t *testing.T, top string) []string {
			mk(t, top, "secret")
			chmod(t, top, 0)
			return []string{top}
		}, []string{"omitted top: " + denied}, ""},
		{"a directory that can be read but not searched", func(t *testing.T, top string) []string {
			mk(t, top, "noexec/f1", "noexec/f2", "z")
			chmod(t, filepath.Join(top, "noexec"), 0o644)
			return []string{top}
		}, []string{"dir top", "dir top/noexec", "omitted top/noexec/f1: cannot stat it: permission denied",
			"omitted top/noexec/f2: cannot stat it: permission denied", "file top/z"}, ""},
		{"an unreadable file is listed: it fails when it is sent", func(t *testing.T, top string) []string {
			mk(t, top, "secret")
			chmod(t, filepath.Join(top, "secret"), 0)
			return []string{top}
		}, []string{"dir top", "file top/secret"}, ""},
		{"a root that cannot be reached is an error, as a missing one", func(t *testing.T, top string) []string {
			mk(t, top, "inner/x")
			chmod(t, top, 0)
			return []string{filepath.Join(top, "inner")}
		}, nil, "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			top := filepath.Join(openToAll(t), "top")
			roots := tc.setup(t, top)
			res := walkAsChild(t, childSpec{Roots: roots, Nobody: true})
			if tc.wantErr != "" {
				if !strings.Contains(res.Err, tc.wantErr) || len(res.Items) != 0 {
					t.Fatalf("Walk gave %d items and error %q; want none and %q", len(res.Items), res.Err, tc.wantErr)
				}
				return
			}
			if res.Err != "" {
				t.Fatalf("Walk: %s", res.Err)
			}
			if got := describe(res.Items); !slices.Equal(got, tc.want) {
				t.Errorf("Walk gave\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			if w := omittedWarnings(res.Items); !slices.Equal(res.Warns, w) {
				t.Errorf("warnings %q, want %q", res.Warns, w)
			}
		})
	}
}

// TestWalkFailsWithoutDescriptors: running out of descriptors is not a
// fault of the directory being opened, so it ends the walk rather than
// omitting that directory and whatever comes after.
func TestWalkFailsWithoutDescriptors(t *testing.T) {
	top := filepath.Join(t.TempDir(), "top")
	mk(t, top, "a", "d/b")
	res := walkAsChild(t, childSpec{Roots: []string{top}, NoFiles: true})
	if !strings.Contains(res.Err, "too many open files") || len(res.Items) != 0 {
		t.Fatalf("Walk gave %q and error %q; want nothing and too many open files", describe(res.Items), res.Err)
	}
}

// TestShown: the name of an omitted item too long for the protocol keeps
// its start and end, cut between characters.
func TestShown(t *testing.T) {
	for _, rel := range []string{
		strings.Repeat("a", proto.MaxPath),
		strings.Repeat("a", proto.MaxPath+1),
		strings.Repeat("é/", 3000),
		"x" + strings.Repeat("€", 3000),
	} {
		got := shown(rel)
		switch {
		case len(rel) <= proto.MaxPath && got != rel:
			t.Errorf("a %d-byte name was changed", len(rel))
		case len(got) > proto.MaxPath || !utf8.ValidString(got):
			t.Errorf("a %d-byte name is shown in %d bytes, valid UTF-8: %v", len(rel), len(got), utf8.ValidString(got))
		case len(rel) > proto.MaxPath && (!strings.HasPrefix(rel, got[:100]) || !strings.HasSuffix(rel, got[len(got)-100:]) || !strings.Contains(got, "…")):
			t.Errorf("a %d-byte name is shown without its start and end", len(rel))
		}
	}
}

// mk makes the files named (relative to top, '/'-separated), and the
// directories that hold them.
func mk(t *testing.T, top string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(top, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// chmod sets p's mode, and restores a mode that lets t's clean-up remove
// what is under it.
func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(p, 0o755) })
}
