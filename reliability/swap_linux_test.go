package reliability

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/internal/testbin"

	"golang.org/x/sys/unix"
)

// The tests in this file guard issue 14's swapped directory on the sending
// side: the walk and the sender opened what is under a tree by its whole
// path, so a directory of the tree swapped for a symlink (by whoever may
// write in the tree) led a sender with more rights than that user out of
// the tree, to send /etc/shadow under a name inside it.

// swapTree is a tree to send, src/tree, with a directory a/b holding a
// small file (read into the batches) and a big one (sent by the engine),
// and beside it outside/b, holding secrets under the same names.
type swapTree struct {
	dir, top, outside string
	secrets           [][]byte
	z                 []byte // tree/z.txt, which must arrive whatever happens
}

func newSwapTree(t *testing.T) *swapTree {
	t.Helper()
	st := &swapTree{dir: t.TempDir()}
	st.top = filepath.Join(st.dir, "src", "tree")
	st.outside = filepath.Join(st.dir, "outside")
	st.z = writeRandom(t, filepath.Join(st.top, "z.txt"), 1000)
	writeRandom(t, filepath.Join(st.top, "a", "b", "small.txt"), 100)
	writeRandom(t, filepath.Join(st.top, "a", "b", "big.bin"), 1<<20)
	for name, size := range map[string]int{"small.txt": 100, "big.bin": 1 << 20} {
		secret := append([]byte("SECRET "), randomBytes(uint64(size), size)...)
		p := filepath.Join(st.outside, "b", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, secret, 0o600); err != nil {
			t.Fatal(err)
		}
		st.secrets = append(st.secrets, secret)
	}
	return st
}

// swap moves tree/a aside (out of the tree) and puts a symlink to outside
// in its place: tree/a/b/small.txt now names outside/b/small.txt.
func (st *swapTree) swap() error {
	a := filepath.Join(st.top, "a")
	return errors.Join(os.Rename(a, filepath.Join(st.dir, "aside")), os.Symlink(st.outside, a))
}

// check fails the test unless both ends exited 23 (partial), the sender
// saying why each of want failed (words), tree/z.txt arrived whole, and
// no file under dst holds a secret or stands under tree/a/b.
func (st *swapTree) check(t *testing.T, dst string, scode int, serr string, rcode int, rerr string, words string, want ...string) {
	t.Helper()
	if scode != 23 || rcode != 23 {
		t.Errorf("send exited %d, recv %d; want 23 (partial) at both ends\nsend:\n%s\nrecv:\n%s", scode, rcode, serr, rerr)
	}
	for _, w := range want {
		if l := swapLine(serr, w, words); !strings.Contains(l, words) {
			t.Errorf("the sender did not say that %s failed because %s:\n%s", w, words, serr)
		} else {
			t.Logf("the sender said: %s", l)
		}
	}
	figs.transfer(1)
	arrived(t, filepath.Join(dst, "tree", "z.txt"), st.z)
	absent(t, filepath.Join(dst, "tree", "a", "b", "small.txt"))
	absent(t, filepath.Join(dst, "tree", "a", "b", "big.bin"))
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, s := range st.secrets {
			if err == nil && bytes.Contains(b, s[:64]) {
				figs.mu.Lock()
				figs.FilesCorrupted++
				figs.mu.Unlock()
				t.Errorf("a secret from outside the tree arrived as %s", p)
			}
		}
		return err
	})
}

// swapLine returns the first line of log that holds both s and words, or
// else the first that holds s.
func swapLine(log, s, words string) string {
	first := ""
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			if strings.Contains(l, words) {
				return l
			}
			if first == "" {
				first = l
			}
		}
	}
	return first
}

// TestSwappedDirectoryDuringWalk: tree/a is swapped for a symlink to
// outside/ after the walk read its names (b, a directory) and before it
// opened a/b. The walk opened a/b by its path, through the symlink, listed
// outside/b as tree/a/b, and sent the secrets there. Now a/b is omitted
// (both ends exit 23) and no secret arrives. The walk is held at that
// moment with fanotify: the second getdents(2) of tree/a, the one that
// finds the end of its names, waits for the test's answer.
func TestSwappedDirectoryDuringWalk(t *testing.T) {
	testbin.NeedRoot(t)
	st := newSwapTree(t)
	dst := t.TempDir()
	r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst)
	pid := make(chan int, 1)
	held := holdListing(t, filepath.Join(st.top, "a"), 2, pid, st.swap)
	s := startCmd(t, exec.Command(zcopyBin, "send", "--to", r.Addr(t), st.top))
	pid <- s.Cmd.Process.Pid
	scode, serr := s.Wait(t)
	rcode, rerr := r.Wait(t)
	select {
	case err := <-held:
		if err != nil {
			t.Fatalf("swapping tree/a while the walk was held: %v", err)
		}
	default:
		t.Fatalf("the walk never read the end of tree/a's names; sender:\n%s", serr)
	}
	figs.hostile("sending side: directory swapped for a symlink during the walk", 1)
	st.check(t, dst, scode, serr, rcode, rerr, "a symlink is not followed", "tree/a/b")
}

// TestSwappedDirectoryAfterWalk: tree/a is swapped for a symlink to
// outside/ after the walk (zcopy send --listen walks before it listens)
// and before the files under it are sent. Each is opened beneath the root
// and through directories only, so each fails (both ends exit 23), the
// sender saying a symlink now stands on its path, and no secret arrives.
// (Before, each was opened by its path, through the symlink, and the
// secret refused only because its inode was not the one listed.)
func TestSwappedDirectoryAfterWalk(t *testing.T) {
	st := newSwapTree(t)
	dst := t.TempDir()
	s := start(t, "send", "--listen", "127.0.0.1:0", st.top)
	addr := s.Addr(t)
	if err := st.swap(); err != nil {
		t.Fatal(err)
	}
	figs.hostile("sending side: directory swapped for a symlink after the walk", 1)
	rcode, _, rerr := run(t, "recv", "--from", addr, "--dir", dst)
	scode, serr := s.Wait(t)
	st.check(t, dst, scode, serr, rcode, rerr, "a symlink is not followed", "a/b/small.txt", "a/b/big.bin")
}

// holdListing holds the nth read of the directory dir's names (getdents,
// a fanotify FAN_ACCESS_PERM event) by the process whose pid comes on
// pid, runs do while it is held, then lets it go on; every other access is
// let through at once. The channel it returns gets do's error once do ran.
// Go reads a directory's names until getdents returns none, so for a small
// directory the second read is the one that finds the end, after every
// name was read. Needs CAP_SYS_ADMIN, and a kernel with fanotify
// permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS).
func holdListing(t *testing.T, dir string, nth int, pid <-chan int, do func() error) <-chan error {
	t.Helper()
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_LARGEFILE)
	if err == nil {
		if err = unix.FanotifyMark(fd, unix.FAN_MARK_ADD, unix.FAN_ACCESS_PERM|unix.FAN_ONDIR, unix.AT_FDCWD, dir); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fanotify permission events: %v", err)
		}
		t.Skipf("no fanotify permission events here: %v", err)
	}
	f := os.NewFile(uintptr(fd), "fanotify")
	stopped := make(chan struct{})
	t.Cleanup(func() {
		f.Close() // lets through whatever is still held
		<-stopped
	})
	done := make(chan error, 1)
	go func() {
		defer close(stopped)
		var p int32
		select {
		case v := <-pid:
			p = int32(v)
		case <-t.Context().Done():
			return
		}
		seen := 0
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			// struct fanotify_event_metadata: event_len u32, vers u8,
			// reserved u8, metadata_len u16, mask u64, fd s32, pid s32.
			for b := buf[:n]; len(b) >= 24; {
				evLen := binary.NativeEndian.Uint32(b)
				mask := binary.NativeEndian.Uint64(b[8:])
				evFd := int32(binary.NativeEndian.Uint32(b[16:]))
				evPid := int32(binary.NativeEndian.Uint32(b[20:]))
				if mask&unix.FAN_ACCESS_PERM != 0 && evPid == p {
					if seen++; seen == nth {
						done <- do()
					}
				}
				var resp [8]byte // struct fanotify_response: fd s32, response u32
				binary.NativeEndian.PutUint32(resp[:], uint32(evFd))
				binary.NativeEndian.PutUint32(resp[4:], unix.FAN_ALLOW)
				f.Write(resp[:])
				if evFd >= 0 {
					unix.Close(int(evFd))
				}
				b = b[min(int(evLen), len(b)):]
			}
		}
	}()
	return done
}
