package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/testbin"
)

// makeTree builds the acceptance tree: nested directories, an empty
// directory, an empty file, many small files, names with spaces and
// non-ASCII characters, a symlink, odd modes, and one big file.
func makeTree(t *testing.T, root string, small int, big int64) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "a/b/c d/ünïcødé ✓"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "empty dir"), 0o700))
	must(os.WriteFile(filepath.Join(root, "empty file"), nil, 0o600))
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range small {
		dir := filepath.Join(root, "small", fmt.Sprintf("%02d", i%10))
		must(os.MkdirAll(dir, 0o755))
		b := make([]byte, rng.IntN(8192))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		must(os.WriteFile(filepath.Join(dir, fmt.Sprintf("file %d ✓.bin", i)), b, 0o644))
	}
	must(os.WriteFile(filepath.Join(root, "a/b/c d/ünïcødé ✓/nested.txt"), []byte("deep\n"), 0o640))
	must(os.WriteFile(filepath.Join(root, "a/run.sh"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Symlink("a/run.sh", filepath.Join(root, "link to run")))
	if big > 0 {
		if code, _, stderr := run(t, "gen", filepath.Join(root, "big.bin"), "--size", fmt.Sprint(big)); code != 0 {
			t.Fatal(stderr)
		}
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	must(os.Chtimes(filepath.Join(root, "a/run.sh"), old, old))
	must(os.Chtimes(filepath.Join(root, "empty dir"), old, old))
}

// sameTree compares two trees: kinds, contents, permission bits, mtimes of
// files and directories, and symlink targets.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		q := filepath.Join(got, rel)
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(q)
		if err != nil {
			return fmt.Errorf("missing %s: %v", rel, err)
		}
		n++
		if wi.Mode() != gi.Mode() {
			return fmt.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		switch {
		case wi.Mode()&fs.ModeSymlink != 0:
			wt, _ := os.Readlink(p)
			gt, _ := os.Readlink(q)
			if wt != gt {
				return fmt.Errorf("%s: link to %q, want %q", rel, gt, wt)
			}
			return nil
		case wi.Mode().IsRegular():
			if _, err := testbin.CompareFiles(q, p); err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
		}
		if rel != "." && !wi.ModTime().Equal(gi.ModTime()) {
			return fmt.Errorf("%s: mtime %v, want %v", rel, gi.ModTime(), wi.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	extra := 0
	filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error { extra++; return nil })
	if extra != n {
		t.Fatalf("%s has %d entries, %s has %d", got, extra, want, n)
	}
}

type result struct {
	Files     int
	Bytes     int64
	BytesSent int64 `json:"bytes_sent"`
	HoleBytes int64 `json:"hole_bytes"`
	Hardlinks int
	Skipped   int
	Seconds   float64
	Method    string
	Streams   int
	Failed    []string
}

func parseResult(t *testing.T, s string) result {
	t.Helper()
	var r result
	if err := json.Unmarshal([]byte(firstLine(s)), &r); err != nil {
		t.Fatalf("JSON %q: %v", s, err)
	}
	return r
}

// TestTreePushPull sends the acceptance tree push and pull, over one
// stream and several, with --verify, and compares; in both modes (inside
// TLS, the default, and --plaintext at both ends). The methods the ends
// report are the default's: sendfile and splice in plaintext, readwrite
// inside TLS (encryption copies each body through user space).
func TestTreePushPull(t *testing.T) {
	big := int64(1 << 30)
	if testing.Short() {
		big = 16 << 20
	}
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src, 1000, big)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tc := range []struct {
				mode    string
				streams int
			}{{"push", 1}, {"pull", 1}, {"push", 4}, {"pull", 3}} {
				t.Run(fmt.Sprintf("%s-%d", tc.mode, tc.streams), func(t *testing.T) {
					treePushPull(t, m, src, tc.mode, tc.streams)
				})
			}
		})
	}
}

// treePushPull is one case of TestTreePushPull: src sent to a new
// directory in mode m, push or pull, over streams connections.
func treePushPull(t *testing.T, m mode, src, way string, streams int) {
	dst := t.TempDir()
	var s, r *proc
	n := fmt.Sprint(streams)
	if way == "push" {
		r = start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--json", "--keep")...)
		s = start(t, m.args("send", "--to", r.Addr(t), "--json", "--verify", "--streams", n, src)...)
		if code, stderr := s.Wait(t); code != 0 {
			t.Fatalf("send exited %d: %s", code, stderr)
		}
		r.Cmd.Process.Signal(syscall.SIGTERM)
	} else {
		s = start(t, m.args("send", "--listen", "127.0.0.1:0", "--json", "--keep", src)...)
		r = start(t, m.args("recv", "--from", s.Addr(t), "--dir", dst, "--json", "--verify", "--streams", n)...)
		if code, stderr := r.Wait(t); code != 0 {
			t.Fatalf("recv exited %d: %s", code, stderr)
		}
		s.Cmd.Process.Signal(syscall.SIGTERM)
	}
	for name, p := range map[string]*proc{"send": s, "recv": r} {
		if code, stderr := p.Wait(t); code != 0 {
			t.Fatalf("%s exited %d: %s", name, code, stderr)
		}
	}
	sameTree(t, src, filepath.Join(dst, "tree"))
	// The side that opened the streams prints one summary for
	// all; the serving side one per stream.
	opener, server := s, r
	if way == "pull" {
		opener, server = r, s
	}
	res := parseResult(t, opener.Stdout.String())
	if res.Files != 1004 || res.BytesSent != res.Bytes || res.Streams != streams {
		t.Errorf("%s's summary %+v", way, res)
	}
	var sent int64
	lines := strings.Split(strings.TrimSpace(server.Stdout.String()), "\n")
	for _, l := range lines {
		sent += parseResult(t, l).BytesSent
	}
	if len(lines) != streams || sent != res.BytesSent {
		t.Errorf("server: %d summaries, %d bytes; want %d, %d", len(lines), sent, streams, res.BytesSent)
	}
	sres, rres := parseResult(t, firstLine(s.Stdout.String())), parseResult(t, firstLine(r.Stdout.String()))
	if sm, rm := m.methods(); sres.Method != sm || rres.Method != rm {
		t.Errorf("methods: sender %s, receiver %s; want %s and %s (%s)", sres.Method, rres.Method, sm, rm, m.name)
	}
	// Again: everything is there already, nothing crosses.
	r2 := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)
	code, out, stderr := run(t, m.args("send", "--to", r2.Addr(t), "--json", src)...)
	r2.Wait(t)
	if code != 0 {
		t.Fatalf("second send: %s", stderr)
	}
	if res := parseResult(t, out); res.Skipped != 1004 || res.BytesSent != 0 {
		t.Errorf("second send moved %d bytes, skipped %d", res.BytesSent, res.Skipped)
	}
}

// TestResumeAfterKill kills the sender with SIGKILL halfway through a 2 GiB
// file; --resume completes it with less than 60% of it on the wire. In
// both modes (inside TLS, the default, and --plaintext at both ends).
//
// A relay holds the transfer after half the file, so the sender is killed
// in the middle whatever the machine's speed (a test that polled the part
// could see the file finish before its kill). Inside TLS the relay counts
// ciphertext, a little more than the file's bytes: still the middle.
func TestResumeAfterKill(t *testing.T) {
	size := int64(2 << 30)
	if testing.Short() {
		size = 256 << 20
	}
	src := filepath.Join(t.TempDir(), "big.bin")
	if code, _, stderr := run(t, "gen", src, "--size", fmt.Sprint(size)); code != 0 {
		t.Fatal(stderr)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)
			rl := testbin.NewRelay(t, r.Addr(t), testbin.Push)
			rl.Hold(size / 2)
			s := start(t, m.args("send", "--method", "readwrite", "--to", rl.Addr(), src)...)
			rl.Held(30 * time.Second)
			s.Cmd.Process.Signal(syscall.SIGKILL)
			<-s.Done
			// What the dead sender's kernel still had to send (its socket
			// buffer, a few MiB at most) goes on to the receiver, then the
			// end of stream, as without a relay.
			rl.Release()
			code, stderr := r.Wait(t)
			if code != 1 {
				t.Errorf("receiver of a killed sender exited %d: %s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(dst, "big.bin")); err == nil {
				t.Fatal("a final file exists after the sender was killed")
			}
			part := filepath.Join(dst, "big.bin.zcopy-part")
			fi, err := os.Stat(part)
			if err != nil {
				t.Fatalf("no part kept: %v", err)
			}
			t.Logf("killed with %d of %d bytes in the part; receiver said: %s", fi.Size(), size, strings.TrimSpace(stderr))

			r = start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--resume")...)
			code, out, serr := run(t, m.args("send", "--to", r.Addr(t), "--json", "--verify", src)...)
			if code != 0 {
				t.Fatalf("resume: exit %d: %s", code, serr)
			}
			r.Wait(t)
			res := parseResult(t, out)
			t.Logf("resumed: %+v", res)
			if res.BytesSent >= size*6/10 || res.Files != 1 {
				t.Errorf("resume sent %d of %d bytes; want under 60%%", res.BytesSent, size)
			}
			sameContent(t, filepath.Join(dst, "big.bin"), src)
		})
	}
}

// logHas reports whether one line of log holds every one of parts.
func logHas(log string, parts ...string) bool {
	for _, l := range strings.Split(log, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

// hostileConn is a hand-written peer's connection: TCP in plaintext, or a
// TLS client connection over it (secure.ClientConfig, as zcopy's own)
// inside which the peer writes its records in the clear protocol's terms.
type hostileConn interface {
	net.Conn
	CloseWrite() error
}

// dialHostile connects to addr as a hand-written peer in mode m: inside
// TLS unless m is plaintext. Its Hellos must then say FlagTLS (helloFlags).
func dialHostile(t *testing.T, m mode, addr string) hostileConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if m.name == "plaintext" {
		return c.(*net.TCPConn)
	}
	tc := tls.Client(c, secure.ClientConfig())
	tc.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard
	if err := tc.Handshake(); err != nil {
		c.Close()
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	tc.SetDeadline(time.Time{})
	return tc
}

// helloFlags are the flags a hand-written peer's Hello carries in mode m:
// inside TLS every zcopy peer says so (FlagTLS).
func helloFlags(m mode) uint8 {
	if m.name == "plaintext" {
		return 0
	}
	return proto.FlagTLS
}

// TestHostilePeers feeds a --keep receiver garbage, a stalled connection
// and a manifest that tries to escape; each gets a clear error, nothing is
// written outside DIR, and an honest transfer afterwards succeeds. In both
// modes: in plaintext the hand-written peers write the protocol's bytes on
// TCP; inside TLS they are TLS clients (no token: the receiver runs with
// an empty --token) that write the same bytes inside TLS, and the garbage
// is sent both on TCP, where TLS refuses it, and inside TLS, where the
// protocol's decoders do.
func TestHostilePeers(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { hostilePeers(t, m) })
	}
}

func hostilePeers(t *testing.T, m mode) {
	base := t.TempDir()
	dst := filepath.Join(base, "dst")
	r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--header-timeout", "1s", "--idle-timeout", "2s", "--token", "")...)
	addr := r.Addr(t)
	flags := helloFlags(m)

	// 1 MiB of random bytes, on TCP, and inside TLS.
	garbage := make([]byte, 1<<20)
	for i := range garbage {
		garbage[i] = byte(rand.Uint32())
	}
	var onTCP string
	if c, err := net.Dial("tcp", addr); err == nil {
		onTCP = c.LocalAddr().String()
		c.Write(garbage)
		c.Close()
	}
	if m.name != "plaintext" {
		c := dialHostile(t, m, addr)
		c.Write(garbage)
		c.Close()
	}
	// A connection that says nothing.
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	// A well-formed handshake, then a manifest entry named ../escape, and
	// one that is absolute.
	for _, name := range []string{"../escape", "/tmp/escape-abs", "ok/../../escape"} {
		c := dialHostile(t, m, addr)
		br := bufio.NewReader(c)
		h := proto.Hello{Version: proto.Version, Role: proto.RoleSender, Flags: flags}
		c.Write(h.Append(nil))
		proto.ReadHello(br)
		c.Write((&proto.Verdict{OK: true}).Append(nil))
		proto.ReadVerdict(br)
		e := proto.Entry{Kind: proto.KindFile, Path: name, Mode: 0o644, Size: 5}
		c.Write(e.Append(nil))
		c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(nil))
		c.Write((&proto.DataHeader{Index: 0, Length: 5}).Append(nil))
		c.Write([]byte("owned"))
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard
		rest, _ := readAll(br)
		c.Close()
		t.Logf("%s: the receiver answered %d bytes and closed", name, len(rest))
	}

	// Honest headers, lying bodies: more bytes than declared, then fewer
	// and an early close. None may leave a file under its name. A small
	// body is checked whole before anything is written; a large one
	// leaves its part for --resume.
	big := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name string
		size int64
		body string
	}{{"more.txt", 5, "12345678"}, {"fewer.txt", 5, "123"}, {"fewer.bin", int64(len(big)), big[:50<<10]}} {
		c := dialHostile(t, m, addr)
		br := bufio.NewReader(c)
		c.Write((&proto.Hello{Version: proto.Version, Role: proto.RoleSender, Flags: flags}).Append(nil))
		proto.ReadHello(br)
		c.Write((&proto.Verdict{OK: true}).Append(nil))
		proto.ReadVerdict(br)
		c.Write((&proto.Entry{Kind: proto.KindFile, Path: tc.name, Mode: 0o644, Size: tc.size}).Append(nil))
		c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(nil))
		if p, err := proto.ReadPlan(br); err != nil || p.Action != proto.ActionSend {
			t.Fatalf("%s: plan %+v, %v", tc.name, p, err)
		}
		c.Write((&proto.DataHeader{Index: 0, Length: tc.size}).Append(nil))
		c.Write([]byte(tc.body))
		if int64(len(tc.body)) > tc.size {
			c.Write((&proto.Trailer{}).Append(nil))
			c.Write(proto.FinMagic[:])
		}
		c.CloseWrite()
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang guard
		readAll(br)
		c.Close()
	}

	// An honest transfer still works.
	src := filepath.Join(base, "honest.txt")
	os.WriteFile(src, []byte("honest\n"), 0o644)
	if code, _, stderr := run(t, m.args("send", "--to", addr, "--token", "", src)...); code != 0 {
		t.Fatalf("honest send: %s", stderr)
	}
	sameFile(t, filepath.Join(dst, "honest.txt"), []byte("honest\n"))

	// The stalled peer's header timeout (1 s) ends it while the receiver
	// still serves: wait for the line that says so, however long the
	// machine takes (30 s is a hang guard).
	stalledAt := stalled.LocalAddr().String() + ": handshake: "
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if logHas(r.Log(), stalledAt, "i/o timeout") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no header timeout for the stalled peer in 30 s; log:\n%s", r.Log())
		}
	}
	r.Cmd.Process.Signal(syscall.SIGTERM)
	code, log := r.Wait(t)
	t.Logf("receiver log:\n%s", log)
	if code != 0 {
		t.Errorf("receiver exited %d after SIGTERM", code)
	}
	for _, want := range []string{"not a zcopy peer", "i/o timeout", `"../escape"`, `"/tmp/escape-abs"`, `"ok/../../escape"`,
		"more.txt: malformed record: the body did not end where its header said", "fewer.txt: reading the body: unexpected EOF",
		"fewer.bin: receive into"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if m.name != "plaintext" && !logHas(log, onTCP+": handshake: TLS: ") {
		t.Errorf("log lacks the TLS handshake's failure for the garbage on TCP (from %s)", onTCP)
	}
	for _, p := range []string{filepath.Join(base, "escape"), "/tmp/escape-abs", filepath.Join(dst, "escape")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	entries, _ := os.ReadDir(dst)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := "fewer.bin.zcopy-part honest.txt"; strings.Join(names, " ") != want {
		t.Errorf("DIR holds %q, want %q: no final file for a lying sender", names, want)
	}
}

// TestKeepDrains stops a --keep receiver with SIGTERM in the middle of a
// transfer: the transfer finishes and the receiver exits 0. In both modes
// (inside TLS, the default, and --plaintext at both ends).
//
// A relay holds the transfer after 64 of 512 MiB until the receiver has
// taken the signal (it no longer listens), so the transfer is in flight
// when the shutdown begins, whatever the machine's speed.
func TestKeepDrains(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	if code, _, stderr := run(t, "gen", src, "--size", "512MiB"); code != 0 {
		t.Fatal(stderr)
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")...)
			addr := r.Addr(t)
			rl := testbin.NewRelay(t, addr, testbin.Push)
			rl.Hold(64 << 20)
			s := start(t, m.args("send", "--method", "readwrite", "--to", rl.Addr(), src)...)
			rl.Held(30 * time.Second)
			r.Cmd.Process.Signal(syscall.SIGTERM)
			for deadline := time.Now().Add(30 * time.Second); r.Running() && listening(t, addr); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the receiver still listens 30 s after SIGTERM; log:\n%s", r.Log())
				}
			}
			if !r.Running() {
				t.Fatalf("the receiver exited on SIGTERM with the transfer held in the middle; log:\n%s", r.Log())
			}
			rl.Release()
			if code, stderr := r.Wait(t); code != 0 {
				t.Fatalf("receiver exited %d: %s", code, stderr)
			}
			if code, stderr := s.Wait(t); code != 0 {
				t.Fatalf("sender exited %d: %s", code, stderr)
			}
			sameContent(t, filepath.Join(dst, "f.bin"), src)
		})
	}
}

// listening reports whether a TCP socket listens on addr (an IPv4
// address and port), from /proc/net/tcp; without it the test is skipped.
func listening(t *testing.T, addr string) bool {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		t.Fatalf("listening(%q): want an IPv4 address and port (%v)", addr, err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skipf("cannot tell when the receiver stops listening: %v", err)
	}
	// /proc/net/tcp writes the address's 4 bytes as one 32-bit number in
	// the host's byte order and the port as a number, both in hex; state
	// 0A is LISTEN.
	a := ap.Addr().As4()
	le := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], ap.Port())
	be := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[0], a[1], a[2], a[3], ap.Port())
	for _, l := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(l); len(f) > 3 && (f[1] == le || f[1] == be) && f[3] == "0A" {
			return true
		}
	}
	return false
}

// TestToken: matching tokens work; a wrong or missing token is refused at
// both ends with a clear error, in both modes. Both ends run without the
// suite's $ZCOPY_TOKEN; a receiver without a token is given an empty
// --token, since a listening end given none makes its own
// (TestTokenMadeByListener).
func TestToken(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f.txt")
	os.WriteFile(src, []byte("secret stuff\n"), 0o644)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, recvTok, sendTok string
				ok                     bool
				want                   string
			}{
				{"match", "s3cret", "s3cret", true, ""},
				{"wrong", "s3cret", "guess", false, "authentication failed"},
				{"missing", "s3cret", "", false, "token mismatch"},
				{"unexpected", "", "s3cret", false, "token mismatch"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					dst := filepath.Join(t.TempDir(), "dst")
					args := m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--token", tc.recvTok)
					r := testbin.Start(t, withoutToken(exec.Command(zcopyBin, args...)))
					sargs := m.args("send", "--to", r.Addr(t), src)
					if tc.sendTok != "" {
						sargs = append(sargs, "--token", tc.sendTok)
					}
					code, _, serr, err := testbin.Run(withoutToken(exec.Command(zcopyBin, sargs...)))
					if err != nil {
						t.Fatal(err)
					}
					if tc.ok {
						rcode, rerr := r.Wait(t)
						if code != 0 || rcode != 0 {
							t.Fatalf("send %d %s; recv %d %s", code, serr, rcode, rerr)
						}
						sameFile(t, filepath.Join(dst, "f.txt"), []byte("secret stuff\n"))
						return
					}
					// The one-shot receiver logs the failed peer and
					// waits for another (issue 18).
					rerr := strayLogged(t, r)
					if code != 1 || !strings.Contains(serr, tc.want) || !strings.Contains(rerr, tc.want) {
						t.Errorf("send exit %d %q; recv %q; want 1 and %q at both", code, serr, rerr, tc.want)
					}
					if _, err := os.Stat(filepath.Join(dst, "f.txt")); err == nil {
						t.Error("the file arrived without the right token")
					}
				})
			}
		})
	}
}

// TestDiskFull sends a file larger than the receiver's disk (a small tmpfs
// the test mounts): a clear error naming the file at both ends, the part
// kept for a resume, and the --keep receiver goes on serving.
func TestDiskFull(t *testing.T) {
	testbin.NeedRoot(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	dir := t.TempDir()
	src, _ := randomFile(t, dir, "big.bin", 16<<20)
	r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", mnt, "--keep")
	code, _, serr := run(t, "send", "--to", r.Addr(t), src)
	if code != 1 || !strings.Contains(serr, "big.bin") || !strings.Contains(serr, "no space left on device") {
		t.Errorf("send exited %d: %q; want 1 naming the file and the full disk", code, serr)
	}
	if fi, err := os.Stat(filepath.Join(mnt, "big.bin.zcopy-part")); err != nil || fi.Size() == 0 {
		t.Errorf("part not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "big.bin")); err == nil {
		t.Error("a final file exists on a full disk")
	}
	os.Remove(filepath.Join(mnt, "big.bin.zcopy-part"))
	small, want := randomFile(t, dir, "small.bin", 4096)
	if code, _, serr := run(t, "send", "--to", r.Addr(t), small); code != 0 {
		t.Fatalf("after the full disk, a small send failed: %s", serr)
	}
	sameFile(t, filepath.Join(mnt, "small.bin"), want)
	r.Cmd.Process.Signal(syscall.SIGTERM)
	code, log := r.Wait(t)
	if code != 0 || !strings.Contains(log, "big.bin") || !strings.Contains(log, "no space left on device") {
		t.Errorf("receiver exited %d, log %q", code, log)
	}
}
