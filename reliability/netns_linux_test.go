package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

// twoHosts are two network namespaces joined by a veth pair, A at
// 198.18.1.1 and B at 198.18.1.2 (RFC 2544's benchmarking range, nothing
// routable), with A's side shaped by tc tbf to 200 Mbit/s: a slow link
// between two hosts.
type twoHosts struct {
	a, b     string // namespace names
	ifA, ifB string // interface names
	ipA, ipB string
}

var nsSeq atomic.Int64

// newTwoHosts sets the pair up; t.Cleanup deletes both namespaces (which
// deletes the veth pair with them).
func newTwoHosts(t *testing.T) *twoHosts {
	t.Helper()
	testbin.NeedRoot(t)
	testbin.NeedTool(t, "ip")
	testbin.NeedTool(t, "tc")
	id := fmt.Sprintf("%d%d", os.Getpid(), nsSeq.Add(1))
	h := &twoHosts{
		a: "zcopy-rel-a-" + id, b: "zcopy-rel-b-" + id,
		ifA: "zra" + id, ifB: "zrb" + id,
		ipA: "198.18.1.1", ipB: "198.18.1.2",
	}
	if len(h.ifA) > 15 {
		h.ifA, h.ifB = h.ifA[:15], h.ifB[:15]
	}
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{h.a, h.b} {
		sh("ip", "netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	sh("ip", "link", "add", h.ifA, "type", "veth", "peer", "name", h.ifB)
	sh("ip", "link", "set", h.ifA, "netns", h.a)
	sh("ip", "link", "set", h.ifB, "netns", h.b)
	for _, side := range [][3]string{{h.a, h.ifA, h.ipA}, {h.b, h.ifB, h.ipB}} {
		sh("ip", "-n", side[0], "addr", "add", side[2]+"/24", "dev", side[1])
		sh("ip", "-n", side[0], "link", "set", side[1], "up")
		sh("ip", "-n", side[0], "link", "set", "lo", "up")
	}
	sh("tc", "-n", h.a, "qdisc", "add", "dev", h.ifA, "root", "tbf", "rate", shapedRate, "burst", "64kb", "latency", "50ms")
	return h
}

// shapedRate is the rate of the link from A to B.
const shapedRate = "200mbit"

// setRate changes the rate of A's shaper.
func (h *twoHosts) setRate(rate string) error {
	if out, err := exec.Command("tc", "-n", h.a, "qdisc", "change", "dev", h.ifA, "root", "tbf", "rate", rate, "burst", "64kb", "latency", "50ms").CombinedOutput(); err != nil {
		return fmt.Errorf("tc qdisc change rate %s: %v: %s", rate, err, out)
	}
	return nil
}

var tbfSent = regexp.MustCompile(`Sent (\d+) bytes`)

// shapedBytes returns the bytes the tbf qdisc on A has sent so far.
func (h *twoHosts) shapedBytes(t *testing.T) int64 {
	t.Helper()
	out, err := exec.Command("tc", "-n", h.a, "-s", "qdisc", "show", "dev", h.ifA).CombinedOutput()
	if err != nil {
		t.Fatalf("tc -s qdisc show: %v: %s", err, out)
	}
	m := tbfSent.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no byte count in %q", out)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// setLink takes B's interface down or up.
func (h *twoHosts) setLink(t *testing.T, state string) {
	t.Helper()
	if out, err := exec.Command("ip", "-n", h.b, "link", "set", h.ifB, state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s: %v: %s", state, err, out)
	}
}

// TestTwoHosts runs zcopy between two network namespaces over a veth pair
// shaped to 200 Mbit/s, A to B: framed push and pull of a tree (a 24 MiB
// file and 200 small ones), raw, zcopy http to curl, and a link that goes
// down in the middle of a transfer. Every file must arrive byte-identical, and the shaper's
// own counter must show that the bytes crossed it (the transfers did go
// over the slow link, not some other path).
func TestTwoHosts(t *testing.T) {
	h := newTwoHosts(t)
	base := t.TempDir()
	tree := filepath.Join(base, "tree")
	big := filepath.Join(tree, "big.bin")
	genFile(t, big, 24<<20)
	for i := range 200 {
		writeRandom(t, filepath.Join(tree, "small", fmt.Sprintf("%03d.bin", i)), 1+i*97)
	}
	for range rounds() {
		t.Run("framed-push", func(t *testing.T) {
			before := h.shapedBytes(t)
			dst := t.TempDir()
			serveAndRun(t, h.b, []string{"recv", "--listen", h.ipB + ":0", "--dir", dst},
				h.a, func(addr string) []string { return []string{"send", "--to", addr, "--verify", tree} })
			sameTree(t, tree, filepath.Join(dst, "tree"))
			crossed(t, h, before, 24<<20)
		})
		t.Run("framed-pull", func(t *testing.T) {
			before := h.shapedBytes(t)
			dst := t.TempDir()
			serveAndRun(t, h.a, []string{"send", "--listen", h.ipA + ":0", tree},
				h.b, func(addr string) []string { return []string{"recv", "--from", addr, "--dir", dst, "--verify"} })
			sameTree(t, tree, filepath.Join(dst, "tree"))
			crossed(t, h, before, 24<<20)
		})
		t.Run("raw", func(t *testing.T) {
			before := h.shapedBytes(t)
			out := filepath.Join(t.TempDir(), "out.bin")
			serveAndRun(t, h.a, []string{"send", "--raw", "--listen", h.ipA + ":0", big},
				h.b, func(addr string) []string { return []string{"recv", "--raw", "--from", addr, "-o", out} })
			if arrivedAs(t, out, big) {
				figs.transfer(1)
			}
			crossed(t, h, before, 24<<20)
		})
		t.Run("http", func(t *testing.T) {
			// zcopy http on A (the shaped side), curl on B.
			curl := testbin.NeedTool(t, "curl")
			before := h.shapedBytes(t)
			out := filepath.Join(t.TempDir(), "out.bin")
			s := startIn(t, h.a, "http", tree, "--listen", h.ipA+":0", "--access-log=false")
			url := "http://" + s.Addr(t) + "/big.bin"
			cmd := exec.Command("ip", "netns", "exec", h.b, curl, "-sS", "--fail", "--max-time", "60", "-o", out, url)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("curl %s: %v: %s", url, err, b)
			}
			if arrivedAs(t, out, big) {
				figs.mu.Lock()
				figs.HTTPResponses++
				figs.mu.Unlock()
			}
			crossed(t, h, before, 24<<20)
			s.stop(t)
		})
		t.Run("link-down", func(t *testing.T) {
			// B's interface goes down 2 MiB into the big file. Neither end
			// gets an error from the network (packets just vanish), so
			// each must give up by its idle timeout (3 s here) and exit 1
			// saying so; the receiver keeps the part and no final file.
			// With the link back, --resume completes the file, sending
			// only what the part lacks.
			//
			// For the transfer to be in its middle when the link goes,
			// however slowly the test runs, the link is slowed to 8 Mbit/s
			// (1 MB/s) until then: the 22 MiB left would take 22 s.
			if err := h.setRate("8mbit"); err != nil {
				t.Fatal(err)
			}
			restored := false
			restore := func() {
				if !restored {
					restored = true
					if err := h.setRate(shapedRate); err != nil {
						t.Error(err)
					}
				}
			}
			t.Cleanup(restore)
			dst := t.TempDir()
			part := filepath.Join(dst, "big.bin.zcopy-part")
			r := startIn(t, h.b, "recv", "--listen", h.ipB+":0", "--dir", dst, "--idle-timeout", "3s")
			s := startIn(t, h.a, "send", "--to", r.Addr(t), "--idle-timeout", "3s", big)
			waitPart(t, part, 2<<20)
			h.setLink(t, "down")
			figs.fault("link down mid-transfer (two hosts)")
			scode, serr := s.Wait(t)
			rcode, rerr := r.Wait(t)
			h.setLink(t, "up")
			t.Logf("sender: exit %d: %s; receiver: exit %d: %s", scode, strings.TrimSpace(serr), rcode, strings.TrimSpace(rerr))
			if scode != 1 || !strings.Contains(serr, "timeout") {
				t.Errorf("sender exited %d: %q; want 1 and a timeout", scode, serr)
			}
			if rcode != 1 || !strings.Contains(rerr, "timeout") {
				t.Errorf("receiver exited %d: %q; want 1 and a timeout", rcode, rerr)
			}
			absent(t, filepath.Join(dst, "big.bin"))
			kept := fileSize(part)
			if kept <= 0 || kept >= 24<<20 {
				t.Fatalf("the part holds %d bytes", kept)
			}
			restore()
			r = startIn(t, h.b, "recv", "--listen", h.ipB+":0", "--dir", dst, "--resume")
			// The link may take a moment to carry traffic again: a send
			// that cannot connect is tried again, for up to 30 s (a hang
			// guard).
			var code int
			var out string
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				code, out, serr = runIn(t, h.a, "send", "--to", r.Addr(t), "--json", "--verify", big)
				if code == 0 || time.Now().After(deadline) || !strings.Contains(serr, "connect") {
					break
				}
			}
			if code != 0 {
				t.Fatalf("resume over the restored link: exit %d: %s", code, serr)
			}
			if res := parseResult(t, out); res.BytesSent != 24<<20-kept {
				t.Errorf("the resume sent %d bytes; want the %d after the part", res.BytesSent, 24<<20-kept)
			}
			if code, rerr := r.Wait(t); code != 0 {
				t.Fatalf("resuming receiver: exit %d: %s", code, rerr)
			}
			if arrivedAs(t, filepath.Join(dst, "big.bin"), big) {
				figs.transfer(1)
			}
		})
	}
}

// serveAndRun starts the zcopy server command line server in namespace
// srvNS, runs in cliNS the client command line that client makes of the
// server's address, and fails the test unless both exit 0.
func serveAndRun(t *testing.T, srvNS string, server []string, cliNS string, client func(addr string) []string) {
	t.Helper()
	s := startIn(t, srvNS, server...)
	args := client(s.Addr(t))
	if code, _, stderr := runIn(t, cliNS, args...); code != 0 {
		t.Fatalf("%s: exit %d: %s", args[0], code, stderr)
	}
	if code, stderr := s.Wait(t); code != 0 {
		t.Fatalf("%s: exit %d: %s", server[0], code, stderr)
	}
}

// crossed checks that at least n bytes went through A's shaper since
// before.
func crossed(t *testing.T, h *twoHosts, before, n int64) {
	t.Helper()
	if got := h.shapedBytes(t) - before; got < n {
		t.Errorf("only %d bytes went through the shaped link; want at least %d", got, n)
	}
}

// sameTree checks that every file under want arrived under got with the
// same bytes (and counts each); directories and extra entries are
// e2e's business.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	n, bad := 0, 0
	err := filepath.Walk(want, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		n++
		if !arrivedAs(t, filepath.Join(got, rel), p) {
			bad++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if bad == 0 {
		figs.transfer(1)
	}
	t.Logf("%d files compared, %d wrong", n, bad)
}
