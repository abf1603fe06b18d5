package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

var (
	sendMethods = []string{"readwrite", "mmap", "sendfile", "splice", "auto"}
	recvMethods = []string{"readwrite", "splice", "auto"}
)

// TestRawToNC: zcopy send --raw, received by nc (a client nobody here
// wrote), is byte-identical for every send method.
func TestRawToNC(t *testing.T) {
	nc := testbin.NeedTool(t, "nc")
	dir := t.TempDir()
	path, data := randomFile(t, dir, "data.bin", 64<<20)
	for _, m := range sendMethods {
		t.Run(m, func(t *testing.T) {
			p := start(t, "send", "--raw", "--method", m, "--json", "--listen", "127.0.0.1:0", path)
			host, port, _ := net.SplitHostPort(p.Addr(t))
			out := filepath.Join(t.TempDir(), "out")
			f, _ := os.Create(out)
			cmd := exec.Command(nc, host, port)
			cmd.Stdout = f
			if err := cmd.Run(); err != nil {
				t.Fatalf("nc: %v", err)
			}
			f.Close()
			code, stderr := p.Wait(t)
			if code != 0 {
				t.Fatalf("zcopy send exited %d: %s", code, stderr)
			}
			sameFile(t, out, data)
			var r struct {
				Bytes  int64
				Method string
			}
			if err := json.Unmarshal(p.Stdout.Bytes(), &r); err != nil {
				t.Fatalf("--json output %q: %v", p.Stdout.String(), err)
			}
			want := m
			if m == "auto" {
				want = "sendfile"
			}
			if r.Bytes != int64(len(data)) || r.Method != want {
				t.Errorf("JSON says %d bytes by %s, want %d by %s", r.Bytes, r.Method, len(data), want)
			}
		})
	}
}

// TestRawFromNC: nc sends a file into zcopy recv --raw --listen, for every
// receive method.
func TestRawFromNC(t *testing.T) {
	nc := testbin.NeedTool(t, "nc")
	dir := t.TempDir()
	path, data := randomFile(t, dir, "data.bin", 64<<20)
	for _, m := range recvMethods {
		t.Run(m, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			p := start(t, "recv", "--raw", "--method", m, "--listen", "127.0.0.1:0", "-o", out)
			host, port, _ := net.SplitHostPort(p.Addr(t))
			in, _ := os.Open(path)
			defer in.Close()
			cmd := exec.Command(nc, "-N", host, port)
			cmd.Stdin = in
			if err := cmd.Run(); err != nil {
				t.Fatalf("nc: %v", err)
			}
			if code, stderr := p.Wait(t); code != 0 {
				t.Fatalf("zcopy recv exited %d: %s", code, stderr)
			}
			sameFile(t, out, data)
		})
	}
}

// TestRawPairs sends with every send method into zcopy recv with every
// receive method, both ways round (listening sender, listening receiver).
func TestRawPairs(t *testing.T) {
	dir := t.TempDir()
	path, data := randomFile(t, dir, "data.bin", 64<<20)
	for _, sm := range sendMethods[:4] {
		for _, rm := range recvMethods[:2] {
			t.Run(sm+"-"+rm, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out")
				if sm == "sendfile" {
					r := start(t, "recv", "--raw", "--method", rm, "--listen", "127.0.0.1:0", "-o", out, "--json")
					s := start(t, "send", "--raw", "--method", sm, "--to", r.Addr(t), path)
					for name, p := range map[string]*proc{"send": s, "recv": r} {
						if code, stderr := p.Wait(t); code != 0 {
							t.Fatalf("%s exited %d: %s", name, code, stderr)
						}
					}
					if !strings.Contains(r.Stdout.String(), `"method":"`+rm+`"`) {
						t.Errorf("recv --json: %s", r.Stdout.String())
					}
				} else {
					s := start(t, "send", "--raw", "--method", sm, "--listen", "127.0.0.1:0", path)
					if code, _, stderr := run(t, "recv", "--raw", "--method", rm, "--from", s.Addr(t), "-o", out); code != 0 {
						t.Fatalf("recv exited %d: %s", code, stderr)
					}
					if code, stderr := s.Wait(t); code != 0 {
						t.Fatalf("send exited %d: %s", code, stderr)
					}
				}
				sameFile(t, out, data)
			})
		}
	}
}

// TestRawTruncated truncates the file to half while zcopy send is sending
// it to a receiver that reads slowly. The sender must exit 1 (not by a
// signal) saying the file was truncated; the receiver must see a reset and
// fewer bytes than the file had. With a lease (--lease), the sender must
// give the lease back so that truncate(2) goes on: it must not wait for
// the kernel to break the lease.
func TestRawTruncated(t *testing.T) {
	const size = 128 << 20
	leaseBreak, leaseOK := testbin.LeaseBreakTime()
	for _, m := range sendMethods[:4] {
		for _, lease := range []bool{true, false} {
			name := m + "/lease"
			if !lease {
				name = m + "/no-lease"
			}
			t.Run(name, func(t *testing.T) {
				path, _ := randomFile(t, t.TempDir(), "data.bin", size)
				args := []string{"send", "--raw", "--json", "--method", m, "--listen", "127.0.0.1:0", path}
				if lease {
					args = append(args, "--lease")
				}
				p := start(t, args...)
				c, err := net.Dial("tcp", p.Addr(t))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				// Read slowly: 1 MiB, then wait for the truncation. The
				// pause only lets the sender fill the socket buffers and
				// block; it decides nothing: whatever it lasts, the sender
				// cannot get past those buffers (a few MiB) before the
				// reader reads again, so the truncation to half lands in
				// the middle of the file, ahead of the sender.
				if _, err := io.CopyN(io.Discard, c, 1<<20); err != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
				began := time.Now()
				if err := os.Truncate(path, size/2); err != nil {
					t.Fatal(err)
				}
				took := time.Since(began)
				n, rerr := io.Copy(io.Discard, c)
				n += 1 << 20
				code, stderr := p.Wait(t)
				t.Logf("truncate took %v; receiver got %d bytes, then %v; sender: %s %s", took, n, rerr, strings.TrimSpace(stderr), p.Stdout.String())
				if code != 1 || !strings.Contains(stderr, "truncated") {
					t.Errorf("sender exited %d with %q; want 1 and a message saying the file was truncated", code, stderr)
				}
				if n >= size {
					t.Errorf("receiver got all %d bytes", n)
				}
				if rerr == nil {
					t.Errorf("receiver saw a clean end of stream after %d bytes; want a reset", n)
				}
				if lease {
					if !strings.Contains(p.Stdout.String(), `"lease":true`) {
						t.Errorf("no lease held: %s", p.Stdout.String())
					}
					// A writer waits for a lease holder to give the lease
					// back for at most lease-break-time (45 s by default),
					// then the kernel breaks the lease itself. Giving it back
					// takes zcopy milliseconds, but a loaded machine can
					// stretch that to seconds: any wait short of the kernel's
					// limit was ended by zcopy, so judge against the limit,
					// not the machine's speed.
					if !leaseOK {
						t.Logf("lease-break-time unknown or under 5 s: cannot tell a lease given back from one the kernel broke")
					} else if took >= leaseBreak-time.Second {
						t.Errorf("truncate(2) waited %v, the kernel's whole lease-break-time (%v): zcopy did not give its lease back, the kernel broke it", took, leaseBreak)
					}
				}
			})
		}
	}
}

// TestRawRecvReset: a receiver whose sender resets the connection exits 1
// and leaves nothing under the output name. The reset comes once the
// receiver's part holds all that was sent, so there is a part to remove
// however fast the machine is.
func TestRawRecvReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	wrote := make(chan bool, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			wrote <- false
			return
		}
		c.Write(make([]byte, 1<<20))
		ok := false
		for deadline := time.Now().Add(30 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			fi, err := os.Stat(out + ".zcopy-part")
			ok = err == nil && fi.Size() == 1<<20
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		wrote <- ok
	}()
	code, _, stderr := run(t, "recv", "--raw", "--from", ln.Addr().String(), "-o", out)
	if !<-wrote {
		t.Errorf("the receiver's part never held the 1 MiB sent (within 30 s)")
	}
	if code != 1 || !strings.Contains(stderr, "reset") {
		t.Errorf("exit %d, stderr %q; want 1 and a reset", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestRawProcFallback sends a /proc file, which refuses sendfile: auto falls
// back to readwrite and says so.
func TestRawProcFallback(t *testing.T) {
	p := start(t, "send", "--raw", "--json", "--listen", "127.0.0.1:0", "/proc/self/status")
	c, err := net.Dial("tcp", p.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, stderr := p.Wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(string(b), "Name:\tzcopy") {
		t.Errorf("received %q", firstLine(string(b)))
	}
	var r struct {
		Bytes          int64
		Method         string
		Fallbacks      int
		FallbackReason string `json:"fallback_reason"`
	}
	if err := json.Unmarshal(p.Stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Method != "readwrite" || r.Fallbacks != 1 || !strings.Contains(r.FallbackReason, "sendfile") || r.Bytes != int64(len(b)) {
		t.Errorf("JSON %s: want readwrite after one sendfile fallback, %d bytes", p.Stdout.String(), len(b))
	}
}

// TestUsage lists what each bad command line gets: a one-line reason and
// exit 2 for usage mistakes, exit 1 for failed operations.
func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"help"}, 0, ""},
		{[]string{"send", "--help"}, 0, ""},
		{[]string{"send", "--raw", "--to", "127.0.0.1:1"}, 2, "want at least one PATH"},
		{[]string{"send", "--raw", "--to", "127.0.0.1:1", "a", "b"}, 2, "--raw sends one FILE"},
		{[]string{"send", "--to", "127.0.0.1:1", "x"}, 1, "x: no such file or directory"},
		{[]string{"send", "--raw", "--listen", "127.0.0.1:0", "--to", "127.0.0.1:1", "x"}, 2, "exactly one of"},
		{[]string{"send", "--raw", "--method", "teleport", "--to", "127.0.0.1:1", "x"}, 2, "unknown method"},
		{[]string{"send", "--raw", "--bogus", "x"}, 2, "flag provided but not defined"},
		{[]string{"send", "--raw", "--chunk", "lots", "--to", "127.0.0.1:1", "x"}, 2, "size"},
		{[]string{"send", "--raw", "--to", "127.0.0.1:1", filepath.Join(dir, "missing")}, 1, "missing: no such file or directory"},
		{[]string{"send", "--raw", "--to", "127.0.0.1:1", "/proc/self/status"}, 1, "connection refused"},
		{[]string{"recv", "--raw", "--from", "127.0.0.1:1"}, 2, "-o FILE is required"},
		{[]string{"send", "--streams", "0", "--to", "127.0.0.1:1", "x"}, 2, "--streams wants 1 to 64"},
		{[]string{"send", "--streams", "4", "--listen", "127.0.0.1:0", "x"}, 2, "--streams goes with --to"},
		{[]string{"recv", "--streams", "4", "--listen", "127.0.0.1:0", "--dir", "x"}, 2, "--streams goes with --from"},
		{[]string{"recv", "--listen", "127.0.0.1:0"}, 2, "--dir DIR is required"},
		{[]string{"send", "--raw", "--verify", "--to", "127.0.0.1:1", "x"}, 2, "need the framed protocol"},
		{[]string{"recv", "--raw", "--method", "mmap", "--from", "127.0.0.1:1", "-o", "x"}, 2, "cannot receive"},
		{[]string{"recv", "--raw", "-o", "-", "--json", "--from", "127.0.0.1:1"}, 2, "both want stdout"},
		{[]string{"gen", filepath.Join(dir, "g")}, 2, "--size is required"},
		{[]string{"gen", filepath.Join(dir, "g"), "--size", "-5"}, 2, "size"},
		{[]string{"gen", filepath.Join(dir, "no", "dir", "g"), "--size", "1KiB"}, 1, "no such file or directory"},
		{[]string{"gen", filepath.Join(dir, "g"), "--size", "1KiB", "extra"}, 2, "want one PATH"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
			if code == 0 && !strings.Contains(stdout, "usage") && !strings.Contains(stdout, "Usage") {
				t.Errorf("help printed %q on stdout", stdout)
			}
		})
	}
}

// TestSendMissingFile: a file that does not exist is reported by name at
// once, before anything listens.
func TestSendMissingFile(t *testing.T) {
	code, _, stderr := run(t, "send", "--raw", "--listen", "127.0.0.1:0", filepath.Join(t.TempDir(), "nope"))
	if code != 1 || !strings.Contains(stderr, "nope: no such file or directory") || strings.Contains(stderr, "listening") {
		t.Errorf("exit %d, stderr %q; want 1 naming the file, without listening", code, stderr)
	}
}

// TestGen makes the seed's data.bin and a sparse file.
func TestGen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		size int64
	}{
		{[]string{"--size", "3MiB"}, 3 << 20},
		{[]string{"--size", "5GiB", "--sparse"}, 5 << 30},
		{[]string{"--size", "1000"}, 1000},
	} {
		path := filepath.Join(dir, fmt.Sprint(tc.size))
		code, _, stderr := run(t, append([]string{"gen", path}, tc.args...)...)
		if code != 0 {
			t.Fatalf("gen %v: exit %d: %s", tc.args, code, stderr)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != tc.size {
			t.Errorf("gen %v: %v, %v", tc.args, fi, err)
		}
	}
}

// TestRawMemoryFlat sends a 2 GiB sparse file by every method and checks
// that the sender's peak resident memory stays far below the file's size:
// one buffer, one mapping window or one pipe, whatever the file.
func TestRawMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("2 GiB transfers in -short mode")
	}
	path := filepath.Join(t.TempDir(), "sparse.bin")
	if code, _, stderr := run(t, "gen", path, "--size", "2GiB", "--sparse"); code != 0 {
		t.Fatal(stderr)
	}
	for _, m := range sendMethods[:4] {
		t.Run(m, func(t *testing.T) {
			r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "-o", os.DevNull, "--json")
			s := start(t, "send", "--raw", "--json", "--method", m, "--to", r.Addr(t), path)
			for name, p := range map[string]*proc{"send": s, "recv": r} {
				if code, stderr := p.Wait(t); code != 0 {
					t.Fatalf("%s exited %d: %s", name, code, stderr)
				}
			}
			if !strings.Contains(r.Stdout.String(), fmt.Sprintf(`"bytes":%d`, int64(2<<30))) {
				t.Errorf("receiver: %s", r.Stdout.String())
			}
			// The sender's own high-water mark (VmHWM), which it reports;
			// ru_maxrss would include this test process's, inherited.
			var js struct {
				PeakRSSKiB int64 `json:"peak_rss_kib"`
			}
			if err := json.Unmarshal(s.Stdout.Bytes(), &js); err != nil || js.PeakRSSKiB == 0 {
				t.Fatalf("--json %q: %v", s.Stdout.String(), err)
			}
			t.Logf("%s: sender peak RSS %d KiB", m, js.PeakRSSKiB)
			if js.PeakRSSKiB > 64<<10 {
				t.Errorf("sender peak RSS %d KiB for a 2 GiB file; want under 64 MiB", js.PeakRSSKiB)
			}
		})
	}
}
