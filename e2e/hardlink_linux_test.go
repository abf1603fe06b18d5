package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSendHardLinks sends a tree whose 64 MiB file has three names with
// -H, over one stream and two (where such a file would be cut into
// ranges): the bytes cross once, the names arrive as one inode, and the
// summary counts the links; without -H each name is a file of its own.
// A dry run shows the links.
func TestSendHardLinks(t *testing.T) {
	src := filepath.Join(t.TempDir(), "t")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	path, _ := randomFile(t, src, "big", 64<<20)
	for _, n := range []string{"big2", "sub/big3"} {
		if err := os.Link(path, filepath.Join(src, n)); err != nil {
			t.Fatal(err)
		}
	}
	inode := func(p string) uint64 {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	for _, tc := range []struct {
		flags   []string
		streams int
		linked  bool
	}{{[]string{"-H"}, 1, true}, {[]string{"--hard-links"}, 2, true}, {nil, 1, false}} {
		t.Run(fmt.Sprintf("%v-%d", tc.flags, tc.streams), func(t *testing.T) {
			dst := t.TempDir()
			r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--keep", "--dir", dst)
			args := append([]string{"send", "--plaintext", "--json", "--streams", fmt.Sprint(tc.streams), "--to", r.Addr(t)}, tc.flags...)
			code, out, stderr := run(t, append(args, src)...)
			r.Cmd.Process.Signal(syscall.SIGTERM)
			r.Wait(t)
			if code != 0 {
				t.Fatalf("send exited %d: %s", code, stderr)
			}
			res := parseResult(t, out)
			names := []string{"big", "big2", "sub/big3"}
			first := inode(filepath.Join(dst, "t", "big"))
			for _, n := range names {
				p := filepath.Join(dst, "t", n)
				sameContent(t, p, path)
				if same := inode(p) == first; n != "big" && same != tc.linked {
					t.Errorf("%s is the same inode as big: %v, want %v", n, same, tc.linked)
				}
			}
			want := int64(64 << 20)
			if !tc.linked {
				want *= 3
			}
			links := map[bool]int{true: 2}[tc.linked]
			if res.BytesSent != want || res.Hardlinks != links {
				t.Errorf("%d bytes sent, %d hard links; want %d and %d", res.BytesSent, res.Hardlinks, want, links)
			}
		})
	}
	dst := t.TempDir()
	r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", dst)
	code, out, stderr := run(t, "send", "--plaintext", "-n", "-H", "--to", r.Addr(t), src)
	r.Wait(t)
	if code != 0 || !strings.Contains(out, "hardlink t/big2 => t/big") || !strings.Contains(out, "hardlink t/sub/big3 => t/big") {
		t.Errorf("send -n -H exited %d:\n%s%s", code, out, stderr)
	}
}
