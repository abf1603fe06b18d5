package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/testbin"
)

// genFile makes a file of size random bytes with zcopy gen.
func genFile(t *testing.T, path string, size int64) {
	t.Helper()
	if code, _, stderr := run(t, "gen", path, "--size", fmt.Sprint(size)); code != 0 {
		t.Fatal(stderr)
	}
}

// interruptRecv starts a transfer of src into dst (way: "push", recv
// --listen; "pull", recv --from) in mode m, holds it at a relay after
// hold bytes, and interrupts the receiver with SIGINT there, as Ctrl-C
// would: the receiver must exit 130 naming the part it kept, how much of
// the file it holds, and that the same command resumes it, with nothing
// under the final name. It returns the part's size.
func interruptRecv(t *testing.T, m mode, way, src, dst string, hold int64) int64 {
	t.Helper()
	var s, r *proc
	var rl *testbin.Relay
	if way == "push" {
		r = start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)
		rl = testbin.NewRelay(t, r.Addr(t), testbin.Push)
		rl.Hold(hold)
		s = start(t, m.args("send", "--method", "readwrite", "--to", rl.Addr(), src)...)
	} else {
		s = start(t, m.args("send", "--method", "readwrite", "--listen", "127.0.0.1:0", src)...)
		rl = testbin.NewRelay(t, s.Addr(t), testbin.Pull)
		rl.Hold(hold)
		r = start(t, m.args("recv", "--from", rl.Addr(), "--dir", dst)...)
	}
	rl.Held(30 * time.Second)
	r.Cmd.Process.Signal(syscall.SIGINT)
	code, log := r.Wait(t)
	rl.Release()
	if scode, slog := s.Wait(t); scode == 0 {
		t.Errorf("the sender exited 0 after its receiver was interrupted:\n%s", slog)
	}
	name := filepath.Base(src)
	if _, err := os.Stat(filepath.Join(dst, name)); err == nil {
		t.Fatalf("%s exists under its final name after the receiver was interrupted", name)
	}
	part := filepath.Join(dst, name+".zcopy-part")
	fi, err := os.Stat(part)
	if err != nil {
		t.Fatalf("no part kept: %v; receiver said:\n%s", err, log)
	}
	src0, _ := os.Stat(src)
	want := fmt.Sprintf("zcopy recv: interrupted by SIGINT: part kept: %s of %s in %s; resume with the same command (exit status 130)",
		bytesize.Format(fi.Size()), bytesize.Format(src0.Size()), part)
	if code != 130 || !strings.Contains(log, want) {
		t.Fatalf("receiver interrupted by SIGINT: exit %d; want 130 and %q:\n%s", code, want, log)
	}
	return fi.Size()
}

// transfer runs a whole transfer of src into dst in mode m (push or
// pull) with recvArgs given to the receiver, and returns the receiver's
// JSON result and the sender's stderr.
func transfer(t *testing.T, m mode, way, src, dst string, recvArgs ...string) (res result, resumed int64, sendLog string) {
	t.Helper()
	var rout, slog string
	if way == "push" {
		r := start(t, m.args("recv", append([]string{"--listen", "127.0.0.1:0", "--dir", dst, "--json"}, recvArgs...)...)...)
		code, _, serr := run(t, m.args("send", "--verify", "--to", r.Addr(t), src)...)
		if code != 0 {
			t.Fatalf("send exited %d:\n%s", code, serr)
		}
		if code, rerr := r.Wait(t); code != 0 {
			t.Fatalf("recv exited %d:\n%s", code, rerr)
		}
		rout, slog = r.Stdout.String(), serr
	} else {
		s := start(t, m.args("send", "--verify", "--listen", "127.0.0.1:0", src)...)
		code, out, rerr := run(t, m.args("recv", append([]string{"--from", s.Addr(t), "--dir", dst, "--json"}, recvArgs...)...)...)
		if code != 0 {
			t.Fatalf("recv exited %d:\n%s", code, rerr)
		}
		if code, serr := s.Wait(t); code != 0 {
			t.Fatalf("send exited %d:\n%s", code, serr)
		}
		rout, slog = out, s.Log()
	}
	var extra struct {
		Resumed int64
		Error   string
	}
	if err := json.Unmarshal([]byte(firstLine(rout)), &extra); err != nil {
		t.Fatalf("JSON %q: %v", rout, err)
	}
	return parseResult(t, rout), extra.Resumed, slog
}

// TestCtrlCKeepsPartAndResumesByDefault: a receiver interrupted by
// SIGINT (Ctrl-C) says which part it kept and exits 130; the same
// command again, without --resume, continues the part: only the missing
// bytes cross, the receiver's JSON counts the bytes reused, the sender's
// summary says so, and the file arrives whole. Push (recv --listen) and
// pull (recv --from), in both modes.
func TestCtrlCKeepsPartAndResumesByDefault(t *testing.T) {
	size := int64(64 << 20)
	src := filepath.Join(t.TempDir(), "big.bin")
	genFile(t, src, size)
	for _, m := range modes {
		for _, way := range []string{"push", "pull"} {
			t.Run(m.name+"/"+way, func(t *testing.T) {
				dst := t.TempDir()
				kept := interruptRecv(t, m, way, src, dst, size/4)
				res, resumed, slog := transfer(t, m, way, src, dst)
				t.Logf("kept %d; then %+v, resumed %d", kept, res, resumed)
				if resumed != kept || res.BytesSent != size-kept || res.Files != 1 {
					t.Errorf("after a part of %d bytes: %d sent, %d reused; want %d and %d", kept, res.BytesSent, resumed, size-kept, kept)
				}
				if want := bytesize.Format(kept) + " reused from parts"; !strings.Contains(slog, want) {
					t.Errorf("the sender's summary does not say %q:\n%s", want, slog)
				}
				sameContent(t, filepath.Join(dst, "big.bin"), src)
			})
		}
	}
}

// TestPartOfAnotherVersionNotContinued: a part is continued only for the
// version of the source it came from. A source changed since (its mtime
// here: the part's record no longer matches) is sent whole, saying why;
// --no-resume starts over whatever the part holds; --resume (the old
// flag) is accepted and resumes, as the default does.
func TestPartOfAnotherVersionNotContinued(t *testing.T) {
	size := int64(32 << 20)
	m := modes[1] // plaintext: the version check is the receiver's, whatever the mode
	for _, tc := range []struct {
		name    string
		change  bool     // touch the source after the part was made
		flags   []string // the receiver's
		resumes bool
		says    string // in the receiver's log
	}{
		{name: "source-changed", change: true, says: "the source changed since the part was written"},
		{name: "no-resume", flags: []string{"--no-resume"}},
		{name: "resume-flag", flags: []string{"--resume"}, resumes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "f.bin")
			genFile(t, src, size)
			dst := t.TempDir()
			kept := interruptRecv(t, m, "push", src, dst, size/4)
			if tc.change {
				later := time.Now().Add(time.Hour)
				if err := os.Chtimes(src, later, later); err != nil {
					t.Fatal(err)
				}
			}
			r := start(t, m.args("recv", append([]string{"--listen", "127.0.0.1:0", "--dir", dst, "--json"}, tc.flags...)...)...)
			code, out, serr := run(t, m.args("send", "--json", "--to", r.Addr(t), src)...)
			rcode, rlog := r.Wait(t)
			if code != 0 || rcode != 0 {
				t.Fatalf("send exited %d, recv %d:\n%s\n%s", code, rcode, serr, rlog)
			}
			res := parseResult(t, out)
			want := size
			if tc.resumes {
				want = size - kept
			}
			if res.BytesSent != want {
				t.Errorf("%d bytes sent after a part of %d; want %d", res.BytesSent, kept, want)
			}
			if tc.says != "" && !strings.Contains(rlog, tc.says) {
				t.Errorf("the receiver does not say %q:\n%s", tc.says, rlog)
			}
			sameContent(t, filepath.Join(dst, "f.bin"), src)
		})
	}
}

// TestCtrlCSenderSaysWhatWasKept: a sender interrupted by SIGINT exits
// 130 and says what it sent and that the same command resumes.
func TestCtrlCSenderSaysWhatWasKept(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, 16<<20)
	r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", t.TempDir())
	rl := testbin.NewRelay(t, r.Addr(t), testbin.Push)
	rl.Hold(4 << 20)
	s := start(t, "send", "--plaintext", "--method", "readwrite", "--to", rl.Addr(), src)
	rl.Held(30 * time.Second)
	s.Cmd.Process.Signal(syscall.SIGINT)
	code, log := s.Wait(t)
	rl.Release()
	r.Wait(t)
	if code != 130 || !strings.Contains(log, "zcopy send: interrupted by SIGINT: ") || !strings.Contains(log, "resume with the same command (exit status 130)") {
		t.Errorf("sender interrupted by SIGINT: exit %d; want 130, saying what it sent and how to resume:\n%s", code, log)
	}
}

// TestKeepSecondSignalCutsAtOnce: the first SIGINT makes a --keep server
// drain (here with 10 minutes of grace and a transfer held in the
// middle); a second ends it at once, saying so, exit 1; a receiver says
// which part it kept. Both servers: recv --keep (push) and send --keep
// (pull).
func TestKeepSecondSignalCutsAtOnce(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, 32<<20)
	for _, server := range []string{"recv", "send"} {
		t.Run(server, func(t *testing.T) {
			dst := t.TempDir()
			var srv, client *proc
			var rl *testbin.Relay
			if server == "recv" {
				srv = start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--grace", "10m")
				rl = testbin.NewRelay(t, srv.Addr(t), testbin.Push)
				rl.Hold(8 << 20)
				client = start(t, "send", "--plaintext", "--method", "readwrite", "--to", rl.Addr(), src)
			} else {
				srv = start(t, "send", "--plaintext", "--method", "readwrite", "--listen", "127.0.0.1:0", "--keep", "--grace", "10m", src)
				rl = testbin.NewRelay(t, srv.Addr(t), testbin.Pull)
				rl.Hold(8 << 20)
				client = start(t, "recv", "--plaintext", "--from", rl.Addr(), "--dir", dst)
			}
			rl.Held(30 * time.Second)
			srv.Cmd.Process.Signal(syscall.SIGINT)
			srv.WaitLog(t, "stopping: accepting no more connections", 1)
			if !srv.Running() {
				t.Fatalf("the --keep %s ended on the first signal with a transfer in flight and 10 minutes of grace:\n%s", server, srv.Log())
			}
			srv.Cmd.Process.Signal(syscall.SIGINT)
			code, log := srv.Wait(t)
			rl.Release()
			client.Wait(t)
			want := []string{"second signal: cutting the transfers still in flight now", "cut short after the signal: a second signal", "1 in flight cut short when a second signal"}
			if server == "recv" {
				want = append(want, "(part kept: ", "f.bin.zcopy-part")
			}
			for _, w := range want {
				if !strings.Contains(log, w) {
					t.Errorf("the log after the second signal lacks %q:\n%s", w, log)
				}
			}
			if code != 1 {
				t.Errorf("exit %d after the second signal cut a transfer; want 1:\n%s", code, log)
			}
			if _, err := os.Stat(filepath.Join(dst, "f.bin")); err == nil {
				t.Error("a short file under the final name")
			}
		})
	}
}

// TestFramedJSONCarriesError: framed send and recv with --json print one
// object with an "error" field when the transfer fails (here: nobody
// listens at the address).
func TestFramedJSONCarriesError(t *testing.T) {
	// Port 1 (tcpmux): nobody listens there, and unlike a port freed by
	// the test, no listener of a test running beside it can take it.
	const addr = "127.0.0.1:1"
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("x"), 0o644)
	for _, args := range [][]string{
		{"send", "--json", "--to", addr, src},
		{"recv", "--json", "--from", addr, "--dir", t.TempDir()},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, out, stderr := run(t, args...)
			var obj struct{ Error string }
			if err := json.Unmarshal([]byte(firstLine(out)), &obj); err != nil {
				t.Fatalf("stdout %q is not one JSON object: %v (stderr %s)", out, err, stderr)
			}
			if code != 1 || !strings.Contains(obj.Error, "refused") {
				t.Errorf("exit %d, error %q; want 1 and an error saying the connection was refused", code, obj.Error)
			}
		})
	}
}

// TestSummaryCountsWhatHappened: the summaries at both ends count files
// and directories in the singular for one, give the rate in the unit the
// sizes use (not GB/s), and a second transfer counts the file unchanged;
// a file that differs is refused with the hint naming the receiver's flag
// (zcopy recv --overwrite) at both ends; a --keep receiver logs one line
// per transfer as it ends.
func TestSummaryCountsWhatHappened(t *testing.T) {
	src := filepath.Join(t.TempDir(), "d")
	os.Mkdir(src, 0o755)
	randomFile(t, src, "f", 100<<10)
	dst := t.TempDir()
	r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")
	send := func() (int, string) {
		code, _, serr := run(t, "send", "--to", r.Addr(t), src)
		return code, serr
	}
	code, serr := send()
	rlog := r.WaitLog(t, ": received ", 1)
	for side, log := range map[string]string{"send": serr, "recv": rlog} {
		if code != 0 || !logHas(log, "1 file (100.0 KiB)", "1 directory;", "100.0 KiB on the wire", "/s)") || strings.Contains(log, "GB/s") || strings.Contains(log, "1 files") {
			t.Errorf("%s's summary of one file in one directory (exit %d):\n%s", side, code, log)
		}
	}
	code, serr = send()
	rlog = r.WaitLog(t, ": received ", 2)
	if code != 0 || !logHas(serr, "sent 0 files (0 B), 1 unchanged (100.0 KiB, already there)", "0 B on the wire") ||
		!logHas(rlog, "received 0 files (0 B), 1 unchanged (100.0 KiB, already there)") {
		t.Errorf("the summaries of a transfer with nothing to send (exit %d):\n%s\n%s", code, serr, rlog)
	}
	// The file differs now: refused, and the hint names recv's flag.
	randomFile(t, src, "f", 50<<10)
	code, serr = send()
	rlog = r.WaitLog(t, ": received ", 3)
	for side, log := range map[string]string{"send": serr, "recv": rlog} {
		if !strings.Contains(log, "exists and differs (zcopy recv --overwrite replaces it)") || strings.Contains(log, "use --overwrite") {
			t.Errorf("%s: the refusal does not name zcopy recv --overwrite:\n%s", side, log)
		}
	}
	if code != 23 || !logHas(serr, "sent 0 files", "1 failed") {
		t.Errorf("refused: exit %d; want 23 and a summary counting it failed:\n%s", code, serr)
	}
	if n := strings.Count(r.Log(), ": received "); n != 3 {
		t.Errorf("the --keep receiver logged %d summaries for 3 transfers:\n%s", n, r.Log())
	}
	r.Cmd.Process.Signal(syscall.SIGTERM)
	r.Wait(t)
}

// TestRawInterruptedExits130: raw mode too exits 128+N when a signal
// ends it (here SIGINT while it waits for its peer), saying so, and
// leaves nothing under -o FILE.
func TestRawInterruptedExits130(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("never sent"), 0o644)
	out := filepath.Join(dir, "out")
	for _, args := range [][]string{
		{"recv", "--raw", "--listen", "127.0.0.1:0", "-o", out},
		{"send", "--raw", "--listen", "127.0.0.1:0", src},
	} {
		t.Run(args[0], func(t *testing.T) {
			p := start(t, args...)
			p.Addr(t)
			p.Cmd.Process.Signal(syscall.SIGINT)
			code, log := p.Wait(t)
			if code != 130 || !strings.Contains(log, "interrupted by SIGINT (exit status 130)") {
				t.Errorf("exit %d after SIGINT; want 130, saying so:\n%s", code, log)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s exists after an interrupted raw receive", out)
			}
		})
	}
}
