package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

// killSize is the file a receiver is killed in the middle of; killHold is
// where a relay between the ends holds each transfer, so that it is still in
// the middle when the receiver dies, however fast or slow the machine.
const (
	killSize = 512 << 20
	killHold = 32 << 20
)

// genFile makes a file of size random bytes with zcopy gen.
func genFile(t testing.TB, path string, size int64) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if code, _, stderr := run(t, "gen", path, "--size", fmt.Sprint(size)); code != 0 {
		t.Fatalf("zcopy gen: %s", stderr)
	}
}

// waitPart waits until path (a .zcopy-part) holds at least n bytes.
func waitPart(t testing.TB, path string, n int64) {
	t.Helper()
	if !eventually(60*time.Second, func() bool { return fileSize(path) >= n }) {
		t.Fatalf("%s never reached %d bytes (has %d)", path, n, fileSize(path))
	}
}

// connectionLost is what a sender must say when its receiver vanished: the
// kernel's reset or broken pipe, in one line.
func connectionLost(stderr string) bool {
	return strings.Contains(stderr, "connection reset by peer") || strings.Contains(stderr, "broken pipe")
}

type sessionResult struct {
	Files     int
	Bytes     int64
	BytesSent int64 `json:"bytes_sent"`
	Failed    []string
}

func parseResult(t testing.TB, s string) sessionResult {
	t.Helper()
	var r sessionResult
	line, _, _ := strings.Cut(s, "\n")
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("JSON %q: %v", s, err)
	}
	return r
}

// TestReceiverKilled kills the receiver with SIGKILL in the middle of a
// 512 MiB file (a relay holds the transfer after 32 MiB, and the kill comes
// once the receiver has written 16 MiB), in each arrangement, and checks
// what the user sees:
//   - the sender exits 1 within the hang guard, saying the connection was
//     reset (or the pipe broke), not hanging and not claiming success;
//   - nothing stands under the final name at the receiver; framed mode
//     keeps NAME.zcopy-part;
//   - framed: a new receiver with --resume completes the file with only
//     the bytes after the part on the wire, byte-identical to the source.
//
// The framed cases run in both modes.
func TestReceiverKilled(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big.bin")
	genFile(t, src, killSize)
	for range rounds() {
		for _, m := range secModes {
			t.Run("framed-push/"+m.name, func(t *testing.T) {
				dst := t.TempDir()
				r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)
				px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
				px.Hold(killHold)
				s := start(t, m.args("send", "--method", "readwrite", "--to", px.Addr(), src)...)
				kept := killMidway(t, r, px, filepath.Join(dst, "big.bin.zcopy-part"))
				senderLost(t, s)
				absent(t, filepath.Join(dst, "big.bin"))
				r = start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--resume")...)
				code, out, serr := run(t, m.args("send", "--to", r.Addr(t), "--json", "--verify", src)...)
				resumed(t, code, out, serr, r, filepath.Join(dst, "big.bin"), src, kept)
			})
			t.Run("framed-pull/"+m.name, func(t *testing.T) {
				dst := t.TempDir()
				s := start(t, m.args("send", "--method", "readwrite", "--listen", "127.0.0.1:0", src)...)
				px := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
				px.Hold(killHold)
				r := start(t, m.args("recv", "--from", px.Addr(), "--dir", dst)...)
				kept := killMidway(t, r, px, filepath.Join(dst, "big.bin.zcopy-part"))
				senderLost(t, s)
				absent(t, filepath.Join(dst, "big.bin"))
				s = start(t, m.args("send", "--listen", "127.0.0.1:0", "--json", "--verify", src)...)
				code, _, rerr := run(t, m.args("recv", "--from", s.Addr(t), "--dir", dst, "--resume")...)
				scode, _ := s.Wait(t)
				if code != 0 || scode != 0 {
					t.Fatalf("resumed pull: recv exit %d (%s), send exit %d", code, rerr, scode)
				}
				res := parseResult(t, s.Stdout.String())
				if res.BytesSent != killSize-kept {
					t.Errorf("the resumed pull sent %d bytes; want the %d after the part", res.BytesSent, killSize-kept)
				}
				if arrivedAs(t, filepath.Join(dst, "big.bin"), src) {
					figs.transfer(1)
				}
			})
		}
		t.Run("raw", func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.bin")
			s := start(t, "send", "--raw", "--method", "readwrite", "--listen", "127.0.0.1:0", src)
			px := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
			px.Hold(killHold)
			r := start(t, "recv", "--raw", "--from", px.Addr(), "-o", out)
			killMidway(t, r, px, out+".zcopy-part")
			senderLost(t, s)
			absent(t, out)
		})
		for _, m := range secModes {
			t.Run("keep-server-with-three-in-flight/"+m.name, func(t *testing.T) {
				// A --keep server killed with three transfers in flight:
				// every sender fails, no file is final, and a restarted
				// server with --resume completes all three.
				dst := t.TempDir()
				r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")...)
				// One relay, each connection held on its own.
				px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
				px.HoldEach(killHold)
				var senders []*proc
				var srcs []string
				for i := range 3 {
					p := filepath.Join(t.TempDir(), fmt.Sprintf("f%d.bin", i))
					os.Link(src, p)
					srcs = append(srcs, p)
					senders = append(senders, start(t, m.args("send", "--method", "readwrite", "--to", px.Addr(), p)...))
				}
				px.HeldEach(3, 30*time.Second)
				for i := range 3 {
					waitPart(t, filepath.Join(dst, fmt.Sprintf("f%d.bin.zcopy-part", i)), 16<<20)
				}
				r.Cmd.Process.Signal(syscall.SIGKILL)
				<-r.Done
				figs.fault("receiver killed (SIGKILL) mid-transfer")
				px.Release()
				var kept []int64
				for i := range 3 {
					kept = append(kept, fileSize(filepath.Join(dst, fmt.Sprintf("f%d.bin.zcopy-part", i))))
				}
				for i, s := range senders {
					senderLost(t, s)
					absent(t, filepath.Join(dst, fmt.Sprintf("f%d.bin", i)))
				}
				r = start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--resume")...)
				for i, p := range srcs {
					code, out, serr := run(t, m.args("send", "--to", r.Addr(t), "--json", p)...)
					if code != 0 {
						t.Fatalf("resume of %s: exit %d: %s", p, code, serr)
					}
					if res := parseResult(t, out); res.BytesSent != killSize-kept[i] {
						t.Errorf("resume of %s sent %d bytes; want the %d after the part", p, res.BytesSent, killSize-kept[i])
					}
					if arrivedAs(t, filepath.Join(dst, fmt.Sprintf("f%d.bin", i)), src) {
						figs.transfer(1)
					}
				}
				r.stop(t)
			})
		}
	}
}

// killMidway waits for the relay to hold the transfer (px.Hold(killHold))
// and for part to reach 16 MiB, kills the receiver, and returns the part's
// size then. It releases the relay after the kill, so that the sender
// meets the dead connection.
func killMidway(t *testing.T, r *proc, px *testbin.Relay, part string) int64 {
	t.Helper()
	px.Held(30 * time.Second)
	waitPart(t, part, 16<<20)
	r.Cmd.Process.Signal(syscall.SIGKILL)
	<-r.Done
	figs.fault("receiver killed (SIGKILL) mid-transfer")
	px.Release()
	fi, err := os.Stat(part)
	if err != nil || fi.Size() >= killSize {
		t.Fatalf("the receiver was not killed in the middle: %v %v", fi, err)
	}
	t.Logf("killed with %d of %d bytes in %s", fi.Size(), killSize, filepath.Base(part))
	return fi.Size()
}

// senderLost checks that a sender whose receiver died exits 1 saying the
// connection was lost.
func senderLost(t *testing.T, s *proc) {
	t.Helper()
	code, serr := s.Wait(t)
	t.Logf("sender: exit %d: %s", code, strings.TrimSpace(serr))
	if code != 1 || !connectionLost(serr) {
		t.Errorf("sender exited %d: %q; want 1 and a reset or broken pipe", code, serr)
	}
}

// resumed checks a resumed push: exit 0, only the bytes after the part
// (kept bytes) on the wire, and the file whole.
func resumed(t *testing.T, code int, out, serr string, r *proc, final, src string, kept int64) {
	t.Helper()
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, serr)
	}
	if rcode, rerr := r.Wait(t); rcode != 0 {
		t.Fatalf("resuming receiver exited %d: %s", rcode, rerr)
	}
	res := parseResult(t, out)
	if res.BytesSent != killSize-kept || res.Files != 1 {
		t.Errorf("resume sent %d bytes (%d files); want the %d after the part, 1 file", res.BytesSent, res.Files, killSize-kept)
	}
	if arrivedAs(t, final, src) {
		figs.transfer(1)
	}
}
