package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zcopy/zcopy/internal/testbin"
)

// blocksOf returns the bytes path takes on disk (stat's st_blocks).
func blocksOf(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// writeSparse makes a file of size bytes at path with 1 MiB of non-zero
// bytes at each of offs and holes elsewhere; it returns the data's length.
func writeSparse(t *testing.T, path string, size int64, offs ...int64) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := []byte(strings.Repeat("sparse!\n", 1<<17))
	for _, o := range offs {
		if _, err := f.WriteAt(chunk, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return int64(len(chunk) * len(offs))
}

// TestSparseFileOverStreams sends a 128 MiB file with 3 MiB of data, whole
// and over several streams (ranges, each with its own holes, one of them
// ending in a hole), with --verify, in both modes: it arrives with the same
// bytes, takes its data's blocks at the receiver, the holes do not cross
// the wire (counted by a relay), and the summary and --json say how much
// was holes.
func TestSparseFileOverStreams(t *testing.T) {
	const MiB = 1 << 20
	const size = 128 * MiB
	src := filepath.Join(t.TempDir(), "disk.img")
	data := writeSparse(t, src, size, 0, 40*MiB, 90*MiB)
	for _, m := range modes {
		for _, streams := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s-%d", m.name, streams), func(t *testing.T) {
				dst := t.TempDir()
				r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--verify")...)
				rl := testbin.NewRelay(t, r.Addr(t), testbin.Push)
				code, out, stderr := run(t, m.args("send", "--to", rl.Addr(), "--json", "--verify", "--streams", fmt.Sprint(streams), src)...)
				if code != 0 {
					t.Fatalf("send exited %d: %s", code, stderr)
				}
				r.Cmd.Process.Signal(syscall.SIGTERM)
				if code, stderr := r.Wait(t); code != 0 {
					t.Fatalf("recv exited %d: %s", code, stderr)
				}
				got := filepath.Join(dst, "disk.img")
				sameContent(t, got, src)
				if b := blocksOf(t, got); b > data+256<<10 {
					t.Errorf("the copy takes %d bytes on disk for %d of data", b, data)
				}
				res := parseResult(t, out)
				if res.BytesSent != data || res.HoleBytes != size-data || res.Bytes != size {
					t.Errorf("summary %+v; want %d bytes sent, %d of holes", res, data, size-data)
				}
				if w := rl.Bytes(); w > data+MiB {
					t.Errorf("%d bytes on the wire for %d of data", w, data)
				}
			})
		}
	}
	// The summary for people says it too.
	dst := t.TempDir()
	r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", dst)
	code, _, stderr := run(t, "send", "--plaintext", "--to", r.Addr(t), src)
	r.Wait(t)
	if code != 0 || !strings.Contains(stderr, "of holes not sent") {
		t.Errorf("send exited %d saying %q; want it to count the holes", code, stderr)
	}
}
