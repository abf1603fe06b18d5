package reliability

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/internal/tree"
)

// groupsPerHost is the most stream groups a zcopy server holds from one
// peer host (session.GroupLimits' default).
const groupsPerHost = 16

// dialFrom connects to addr from the loopback address from (any of
// 127.0.0.0/8 is this host's), so that one test can be several peer hosts.
func dialFrom(from, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 30 * time.Second}
	return d.Dial("tcp", addr)
}

// hostileOptions places a connection as stream 0 of group id, of n streams
// the peer will never open: the group it opens is abandoned once that
// stream ends. The peer is in-process (internal/session), the end that
// dialed, inside TLS with the suite's token like the zcopy it talks to:
// the group limits hold for peers that have the token.
func hostileOptions(id uint32, n int) session.Options {
	return tlsMode.dialed(session.Options{Stream: session.Stream{Group: id, Index: 0, Count: n}, HeaderTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second})
}

// abandonPush opens stream 0 of 2 of group id to a receiver at addr, from
// the host from, and sends the first MiB of src on it, as a range of a
// file named after the host and the group, never the rest: the receiver holds the
// file's part (a descriptor for it and one for its directory) until the
// group expires. It returns what did not arrive and the session's error:
// none if the receiver took the range.
func abandonPush(from, addr string, id uint32, src string) ([]string, error) {
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		return nil, err
	}
	it := items[0]
	it.Kind, it.Path, it.Offset, it.Length = proto.KindRange, fmt.Sprintf("%s-g%03d.bin", from, id), 0, 1<<20
	c, err := dialFrom(from, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := session.Send(context.Background(), c, session.Items([]tree.Item{it}), hostileOptions(id, 2))
	return res.Failed, err
}

// abandonPull opens stream 0 of n of group id to a sender at addr, from
// the host from, and takes that stream's share into dir (a directory of
// its own: the group this end makes for the stream holds the parts of
// files in ranges), never opening the others: the sender holds the
// group's walk until it expires. It returns what did not arrive and the
// session's error: none if the sender gave the share.
func abandonPull(from, addr string, id uint32, n int, dir string) ([]string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	c, err := dialFrom(from, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := session.Receive(context.Background(), c, root, hostileOptions(id, n))
	return res.Failed, err
}

// fillGroups opens groups from host with open (abandonPush or abandonPull)
// until one is refused, at most groupsPerHost+extra, and checks that
// exactly groupsPerHost were taken and every later one refused, saying
// why.
func fillGroups(t *testing.T, host string, extra int, open func(id uint32) ([]string, error)) {
	t.Helper()
	want := fmt.Sprintf("%d stream groups from %s", groupsPerHost, host)
	taken := 0
	for id := uint32(1); id <= groupsPerHost+uint32(extra); id++ {
		failed, err := open(id)
		figs.hostile("stream groups opened and abandoned", 1)
		switch {
		case err == nil:
			taken++
		case errors.Is(err, session.ErrFailed) && len(failed) == 1 && strings.Contains(failed[0], want):
			if id == groupsPerHost+1 {
				t.Logf("group %d from %s: %s", id, host, failed[0])
			}
		default:
			t.Fatalf("group %d from %s: %v %q; want it taken, or refused with %q", id, host, err, failed, want)
		}
	}
	if taken != groupsPerHost {
		t.Fatalf("%d groups from %s taken of %d; want %d, the rest refused", taken, host, groupsPerHost+extra, groupsPerHost)
	}
}

// TestStreamGroupsCapped guards issue 14: an unauthenticated peer could
// open stream groups without limit, each held by the server until all its
// streams came (a sender serving fetches: for ever, with a walk of its
// tree) or 30 s after going idle (a receiver: with the part of every file
// announced in ranges, two descriptors each). A hostile peer at
// 127.0.0.2 opens groups and abandons each after one stream: the server
// keeps 16 and refuses the rest, saying why; an honest transfer over two
// streams from 127.0.0.1 still works; and once 127.0.0.1 too holds 16
// abandoned groups, a real zcopy opening one more exits 23 with the
// reason, nothing under the final name.
func TestStreamGroupsCapped(t *testing.T) {
	const size = 72 << 20 // cut into ranges (64 MiB or more)
	base := t.TempDir()
	src := filepath.Join(base, "src", "big.bin")
	genFile(t, src, size)
	const extra = 24

	t.Run("push", func(t *testing.T) {
		dst := t.TempDir()
		r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")
		addr := r.Addr(t)
		before := openFiles(t, r.Cmd.Process.Pid)
		fillGroups(t, "127.0.0.2", extra, func(id uint32) ([]string, error) { return abandonPush("127.0.0.2", addr, id, src) })
		parts, _ := filepath.Glob(filepath.Join(dst, "*.zcopy-ranges"))
		if len(parts) != groupsPerHost {
			t.Errorf("the receiver holds %d parts of abandoned groups; want %d, one per group taken", len(parts), groupsPerHost)
		}
		// Two descriptors a group taken; some more for connections the
		// receiver has not closed yet.
		held := openFiles(t, r.Cmd.Process.Pid) - before
		t.Logf("the receiver holds %d more descriptors after %d groups from one host", held, groupsPerHost+extra)
		if held > 2*groupsPerHost+16 {
			t.Errorf("the receiver holds %d more descriptors after %d abandoned groups; want at most %d", held, groupsPerHost+extra, 2*groupsPerHost+16)
		}

		code, _, serr := run(t, "send", "--streams", "2", "--to", addr, src)
		if code != 0 {
			t.Fatalf("an honest send --streams 2 from another host: exit %d: %s", code, serr)
		}
		if arrivedAs(t, filepath.Join(dst, "big.bin"), src) {
			figs.transfer(1)
		}

		fillGroups(t, "127.0.0.1", 0, func(id uint32) ([]string, error) { return abandonPush("127.0.0.1", addr, id, src) })
		other := filepath.Join(base, "other", "big2.bin")
		genFile(t, other, size)
		code, _, serr = run(t, "send", "--streams", "2", "--to", addr, other)
		t.Logf("send --streams 2 past the limit: exit %d: %s", code, strings.TrimSpace(serr))
		if code != 23 || !strings.Contains(serr, fmt.Sprintf("%d stream groups from 127.0.0.1", groupsPerHost)) {
			t.Errorf("send --streams 2 past the limit: exit %d; want 23 and the reason", code)
		}
		absent(t, filepath.Join(dst, "big2.bin"))
		r.stop(t)
	})

	t.Run("pull", func(t *testing.T) {
		s := start(t, "send", "--listen", "127.0.0.1:0", "--keep", filepath.Dir(src))
		addr := s.Addr(t)
		// 255 streams: each abandoned group takes 1 MiB of the file.
		fillGroups(t, "127.0.0.2", extra, func(id uint32) ([]string, error) {
			return abandonPull("127.0.0.2", addr, id, 255, t.TempDir())
		})

		dst := t.TempDir()
		code, _, serr := run(t, "recv", "--streams", "2", "--from", addr, "--dir", dst)
		if code != 0 {
			t.Fatalf("an honest recv --streams 2 from another host: exit %d: %s", code, serr)
		}
		if arrivedAs(t, filepath.Join(dst, "src", "big.bin"), src) {
			figs.transfer(1)
		}

		fillGroups(t, "127.0.0.1", 0, func(id uint32) ([]string, error) {
			return abandonPull("127.0.0.1", addr, id, 255, t.TempDir())
		})
		dst = t.TempDir()
		code, _, serr = run(t, "recv", "--streams", "2", "--from", addr, "--dir", dst)
		t.Logf("recv --streams 2 past the limit: exit %d: %s", code, strings.TrimSpace(serr))
		if code != 23 || !strings.Contains(serr, fmt.Sprintf("%d stream groups from 127.0.0.1", groupsPerHost)) {
			t.Errorf("recv --streams 2 past the limit: exit %d; want 23 and the reason", code)
		}
		absent(t, filepath.Join(dst, "src", "big.bin"))
		s.stop(t)
	})
}

// TestStreamGroupForgottenWhenAbandoned guards issue 14: a sender serving
// fetches held a group whose other streams never came for ever, with a
// walk of its tree. A receiver opens stream 0 of 255 of a group and
// abandons it; then a file is added to the tree. The sender (its idle time
// cut to 100 ms by $ZCOPY_GROUP_IDLE) must forget the group: stream 0 of
// the same group, asked again a while after the last, gets a fresh walk,
// with the new file. (Each stream that comes re-arms the idle time, so
// the probes are spaced wider than it; while the group is held, a probe
// gets its walk, without the new file. Empty files all go to stream 0.)
func TestStreamGroupForgottenWhenAbandoned(t *testing.T) {
	const idle = 100 * time.Millisecond
	src := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(src, 0o755)
	if err := os.WriteFile(filepath.Join(src, "a"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(zcopyBin, "send", "--listen", "127.0.0.1:0", "--keep", src)
	cmd.Env = append(os.Environ(), "ZCOPY_GROUP_IDLE="+idle.String())
	s := startCmd(t, cmd)
	addr := s.Addr(t)
	// probe takes stream 0 of group 9 and reports whether it held b.
	probe := func() bool {
		t.Helper()
		dir := t.TempDir()
		if failed, err := abandonPull("127.0.0.1", addr, 9, 255, dir); err != nil {
			t.Fatalf("stream 0 of group 9: %v %q", err, failed)
		}
		if _, err := os.Stat(filepath.Join(dir, "tree", "a")); err != nil {
			t.Fatalf("stream 0 of group 9 did not get the tree: %v", err)
		}
		_, err := os.Stat(filepath.Join(dir, "tree", "b"))
		return err == nil
	}
	probe()
	figs.hostile("stream groups opened and abandoned", 1)
	if err := os.WriteFile(filepath.Join(src, "b"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	probes := 0
	if !eventually(30*time.Second, func() bool {
		time.Sleep(3 * idle)
		probes++
		return probe()
	}) {
		t.Fatalf("after %d probes spaced %v apart, stream 0 of the abandoned group still gets the walk made when it was opened", probes, 3*idle)
	}
	t.Logf("forgotten: a fresh walk on probe %d", probes)
	s.stop(t)
}

// openFiles counts the descriptors process pid holds.
func openFiles(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
