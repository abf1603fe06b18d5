//go:build linux

package part

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// dirOf opens a fresh temporary directory for parts.
func dirOf(t *testing.T) (string, *Dir) {
	t.Helper()
	path := t.TempDir()
	root, err := os.OpenRoot(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	d, err := OpenDir(root, ".")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return path, d
}

func write(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var v1 = Version{Size: 10, MTime: 1e18, Source: 77}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenNeverFollowsPlantedLink guards issue 12's case 3 at its root: a
// symlink planted under the part's name (in a directory others can write)
// must be removed, not written through, whatever it points at.
func TestOpenNeverFollowsPlantedLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, dir, link string) string // the link target to check, or ""
	}{
		{"to-a-file", func(t *testing.T, dir, link string) string {
			write(t, filepath.Join(dir, "victim"), "precious")
			must(t, os.Symlink("victim", link))
			return filepath.Join(dir, "victim")
		}},
		{"to-a-file-outside", func(t *testing.T, dir, link string) string {
			outside := filepath.Join(t.TempDir(), "victim")
			write(t, outside, "precious")
			must(t, os.Symlink(outside, link))
			return outside
		}},
		{"dangling", func(t *testing.T, dir, link string) string {
			must(t, os.Symlink("nowhere", link))
			return ""
		}},
		{"fifo", func(t *testing.T, dir, link string) string {
			must(t, syscall.Mkfifo(link, 0o600))
			return ""
		}},
		// A hard link is a regular file under the name: it must not be
		// truncated or written in place either.
		{"hard-link", func(t *testing.T, dir, link string) string {
			write(t, filepath.Join(dir, "victim"), "precious")
			must(t, os.Link(filepath.Join(dir, "victim"), link))
			return filepath.Join(dir, "victim")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, resume := range []bool{false, true} {
				dir, d := dirOf(t)
				link := filepath.Join(dir, "f"+Suffix)
				victim := tc.plant(t, dir, link)
				f, off, _, err := Open(d, "f"+Suffix, v1, resume)
				if err != nil {
					t.Fatalf("resume %v: %v", resume, err)
				}
				f.WriteString("network bytes")
				if err := f.Place("f", true); err != nil {
					t.Fatal(err)
				}
				if off != 0 {
					t.Errorf("resume %v: continued a planted %s at %d", resume, tc.name, off)
				}
				if fi, err := os.Lstat(filepath.Join(dir, "f")); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("the final name is %v, %v; want a regular file", fi.Mode(), err)
				}
				if victim != "" {
					if b := read(t, victim); b != "precious" {
						t.Errorf("resume %v: the link's target now holds %q", resume, b)
					}
				}
			}
		})
	}
}

// TestOpenBusy guards issue 12's case 2: while one transfer holds a part,
// another that wants the same name gets ErrBusy instead of writing into
// it, whether it resumes or not; once the first is done, the name is free.
func TestOpenBusy(t *testing.T) {
	for _, end := range []string{"place", "keep", "discard"} {
		t.Run(end, func(t *testing.T) {
			dir, d := dirOf(t)
			a, _, _, err := Open(d, "f"+Suffix, v1, false)
			if err != nil {
				t.Fatal(err)
			}
			a.WriteString("from a")
			for _, resume := range []bool{false, true} {
				if _, _, _, err := Open(d, "f"+Suffix, v1, resume); !errors.Is(err, ErrBusy) {
					t.Fatalf("second open (resume %v) while the first holds it: %v, want ErrBusy", resume, err)
				}
			}
			if got := read(t, filepath.Join(dir, "f"+Suffix)); got != "from a" {
				t.Fatalf("the part holds %q after the refused open", got)
			}
			switch end {
			case "place":
				err = a.Place("f", false)
			case "keep":
				err = a.Keep()
			case "discard":
				err = a.Discard()
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _, _, err := Open(d, "f"+Suffix, v1, false)
			if err != nil {
				t.Fatalf("after the first ended (%s): %v", end, err)
			}
			b.Discard()
			if end == "place" && read(t, filepath.Join(dir, "f")) != "from a" {
				t.Error("the placed file changed after a later open of its part's name")
			}
		})
	}
}

// TestResumeOnlySameVersion guards issue 12's case 1: a part is continued
// only by a transfer of the version of the file it holds the start of.
func TestResumeOnlySameVersion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		second  Version
		resume  bool
		wantOff int64
	}{
		{"same-version", v1, true, 6},
		{"same-version-without-resume", v1, false, 0},
		{"replaced-same-size-and-mtime", Version{Size: 10, MTime: 1e18, Source: 78}, true, 0},
		{"rewritten-same-size", Version{Size: 10, MTime: 2e18, Source: 77}, true, 0},
		{"grew", Version{Size: 20, MTime: 1e18, Source: 77}, true, 0},
		{"shrank-below-the-part", Version{Size: 4, MTime: 1e18, Source: 77}, true, 0},
		{"unknown-version", Version{}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, d := dirOf(t)
			a, _, _, err := Open(d, "f"+Suffix, v1, false)
			if err != nil {
				t.Fatal(err)
			}
			a.WriteString("first ")
			a.Keep()
			b, off, why, err := Open(d, "f"+Suffix, tc.second, tc.resume)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Discard()
			if off != tc.wantOff {
				t.Fatalf("offset %d, want %d (why: %q)", off, tc.wantOff, why)
			}
			size := int64(len(read(t, filepath.Join(dir, "f"+Suffix))))
			if size != off {
				t.Errorf("the part is %d bytes, continued at %d", size, off)
			}
			if tc.resume && off == 0 && why == "" {
				t.Error("a resume started over without saying why")
			}
		})
	}
}

// TestResumeLegacyPart: a part with no recorded version (left by an older
// zcopy, or written by hand) is never continued.
func TestResumeLegacyPart(t *testing.T) {
	dir, d := dirOf(t)
	write(t, filepath.Join(dir, "f"+Suffix), "stale")
	f, off, why, err := Open(d, "f"+Suffix, v1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Discard()
	if off != 0 || why == "" {
		t.Errorf("continued an unversioned part at %d (%q)", off, why)
	}
}

// TestPlaceKeepsFileThatAppeared guards issue 12's case 7 for the named
// part: without replace, a file that appeared under the final name is
// kept, the part removed, and the error is ErrExist.
func TestPlaceKeepsFileThatAppeared(t *testing.T) {
	for _, replace := range []bool{false, true} {
		dir, d := dirOf(t)
		f, _, _, err := Open(d, "f"+Suffix, v1, false)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("ours")
		write(t, filepath.Join(dir, "f"), "theirs")
		err = f.Place("f", replace)
		want := map[bool]string{false: "theirs", true: "ours"}[replace]
		if got := read(t, filepath.Join(dir, "f")); got != want {
			t.Errorf("replace %v: the final name holds %q, want %q", replace, got, want)
		}
		if !replace && !errors.Is(err, ErrExist) {
			t.Errorf("replace false: %v, want ErrExist", err)
		}
		if replace && err != nil {
			t.Errorf("replace true: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "f"+Suffix)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("replace %v: the part is still there (%v)", replace, err)
		}
	}
}

// TestOpenRefusesDirectory: a directory under a part's name is an error,
// not something removed.
func TestOpenRefusesDirectory(t *testing.T) {
	dir, d := dirOf(t)
	os.Mkdir(filepath.Join(dir, "f"+Suffix), 0o755)
	if _, _, _, err := Open(d, "f"+Suffix, v1, false); err == nil {
		t.Fatal("opened a directory as a part")
	}
}

// TestOpenBusyAcrossSiblings guards a variant of case 2: one transfer
// receiving a name in ranges (NAME.zcopy-ranges) and another receiving it
// whole (NAME.zcopy-part) would each write a part of its own and place it.
func TestOpenBusyAcrossSiblings(t *testing.T) {
	for _, pair := range [][2]string{{RangesSuffix, Suffix}, {Suffix, RangesSuffix}} {
		_, d := dirOf(t)
		a, _, _, err := Open(d, "f"+pair[0], v1, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := Open(d, "f"+pair[1], v1, false); !errors.Is(err, ErrBusy) {
			t.Errorf("%s held, open %s: %v, want ErrBusy", pair[0], pair[1], err)
		}
		a.Keep() // a stale sibling nobody holds is no obstacle
		b, _, _, err := Open(d, "f"+pair[1], v1, false)
		if err != nil {
			t.Fatalf("%s left unheld, open %s: %v", pair[0], pair[1], err)
		}
		b.Discard()
	}
}

// TestPlacedFileCarriesNoVersion: the version record belongs to the part;
// the file placed from it must not carry it (cp -a and rsync -X would copy
// it on, and it names the sender's device and inode).
func TestPlacedFileCarriesNoVersion(t *testing.T) {
	dir, d := dirOf(t)
	f, _, _, err := Open(d, "f"+Suffix, v1, false)
	if err != nil {
		t.Fatal(err)
	}
	var b [64]byte
	if _, err := unix.Fgetxattr(int(f.Fd()), xattrName, b[:]); err != nil {
		t.Skipf("this file system keeps no user extended attributes: %v", err)
	}
	if err := f.Place("f", false); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Getxattr(filepath.Join(dir, "f"), xattrName, b[:]); err != unix.ENODATA {
		t.Errorf("the placed file's %s: %v, want ENODATA", xattrName, err)
	}
}

// TestResumeNeverWritesOthersPart: a part of the right version that has a
// second link, or belongs to another user (planted in a directory others
// can write), is not continued: it is removed and made anew, and the
// other name keeps its bytes.
func TestResumeNeverWritesOthersPart(t *testing.T) {
	for _, tc := range []string{"other-link", "other-owner"} {
		t.Run(tc, func(t *testing.T) {
			dir, d := dirOf(t)
			a, _, _, err := Open(d, "f"+Suffix, v1, false)
			if err != nil {
				t.Fatal(err)
			}
			a.WriteString("first ")
			a.Keep()
			switch tc {
			case "other-link":
				must(t, os.Link(filepath.Join(dir, "f"+Suffix), filepath.Join(dir, "other")))
			case "other-owner":
				if os.Geteuid() != 0 {
					t.Skip("needs root to give the part away")
				}
				must(t, os.Chown(filepath.Join(dir, "f"+Suffix), 65534, 65534))
			}
			b, off, why, err := Open(d, "f"+Suffix, v1, true)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("second")
			if err := b.Place("f", false); err != nil {
				t.Fatal(err)
			}
			if off != 0 || why == "" {
				t.Errorf("continued at %d (%q)", off, why)
			}
			if tc == "other-link" && read(t, filepath.Join(dir, "other")) != "first " {
				t.Errorf("the other link now holds %q", read(t, filepath.Join(dir, "other")))
			}
			var st unix.Stat_t
			must(t, unix.Stat(filepath.Join(dir, "f"), &st))
			if st.Nlink != 1 || int(st.Uid) != os.Geteuid() {
				t.Errorf("the placed file has %d links and owner %d", st.Nlink, st.Uid)
			}
		})
	}
}
