package cli

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/session"
)

// TestDescribeCountsWhatHappened: the summary line counts files moved,
// unchanged and failed, directories and symlinks, in the singular for
// one; gives the rate in the unit its sizes use; and says what was
// reused from parts.
func TestDescribeCountsWhatHappened(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    session.Result
		want []string
		not  []string
	}{
		{"one file", session.Result{Files: 1, Bytes: 100 << 10, BytesSent: 100 << 10, Seconds: 0.01, Dirs: 1},
			[]string{"received 1 file (100.0 KiB)", "1 directory;", "100.0 KiB on the wire in 0.01 s (9.8 MiB/s)"},
			[]string{"1 files", "1 directories", "GB/s"}},
		{"tree", session.Result{Files: 5, Bytes: 3 << 20, BytesSent: 1 << 20, Seconds: 2, Skipped: 2, SkippedBytes: 2 << 20, Dirs: 3, Symlinks: 1, Failed: []string{"x: no"}},
			[]string{"received 3 files (1.0 MiB)", "2 unchanged (2.0 MiB, already there)", "1 failed", "3 directories", "1 symlink;", "(512.0 KiB/s)"},
			nil},
		{"resumed", session.Result{Files: 1, Bytes: 1 << 30, BytesSent: 739 << 20, Resumed: 285 << 20, Seconds: 1, Verified: true},
			[]string{"received 1 file (1.0 GiB)", "739.0 MiB on the wire", "(739.0 MiB/s)", "285.0 MiB reused from parts", "verified"},
			nil},
		{"nothing moved", session.Result{Files: 2, Bytes: 10, Skipped: 2, SkippedBytes: 10, Seconds: 0.5},
			[]string{"received 0 files (0 B), 2 unchanged", "0 B on the wire in 0.50 s"},
			[]string{"B/s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describe("received", tc.r)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("%q has %q", got, n)
				}
			}
		})
	}
}

// TestInterruptedSaysWhatWasKept: a transfer ended by SIGINT exits 130
// (SIGTERM 143), and the receiver names the part it kept, how much of
// the file it holds and how to go on; the JSON object carries the error.
func TestInterruptedSaysWhatWasKept(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(signalName(tc.sig), func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(&Interrupted{Signal: tc.sig})
			var stdout, stderr bytes.Buffer
			e := &env{ctx: ctx, stdout: &stdout, stderr: &stderr}
			res := session.Result{Kept: &session.Kept{Path: "in/big.iso.zcopy-part", Bytes: 285 << 20, Size: 1 << 30}}
			code := finish(e, commands["recv"], "received", res, context.Canceled, false, false)
			want := "zcopy recv: interrupted by " + signalName(tc.sig) + ": part kept: 285.0 MiB of 1.0 GiB in in/big.iso.zcopy-part; resume with the same command"
			if code != tc.code || !strings.Contains(stderr.String(), want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.code, want)
			}
			stdout.Reset()
			finish(e, commands["recv"], "received", res, errors.New("cut"), true, false)
			if !strings.Contains(stdout.String(), `"error":"interrupted by `+signalName(tc.sig)+`"`) || !strings.Contains(stdout.String(), `"kept":{"path":"in/big.iso.zcopy-part"`) {
				t.Errorf("--json: %s", stdout.String())
			}
		})
	}
}

// TestProgressStartsNoGoroutine: the bar is drawn by update only. The
// library's spinner of a bar without a length redrew from a goroutine of
// its own, which wrote the writer after the test had read it (a race CI
// found) and outlived a bar never finished.
func TestProgressStartsNoGoroutine(t *testing.T) {
	var out bytes.Buffer
	p := newBar(&out, "send", 0)
	defer p.done()
	p.update(session.Progress{Done: 1, Total: 10})
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "schollz/progressbar") {
		t.Errorf("a goroutine of the progress bar library is running:\n%s", stacks)
	}
}

// TestProgressShowsFiles: the progress bar of a tree shows the bytes done
// of the total, the rate and the time left, the files done of the total
// and the file moving now; a resumed file's part counts as done from the
// start but not in the rate.
func TestProgressShowsFiles(t *testing.T) {
	var out bytes.Buffer
	p := newBar(&out, "send", 0)
	p.update(session.Progress{Done: 300 << 20, Total: 1 << 30, Files: 0, FileCount: 10, Name: "photos/2024/IMG_0001.jpg"})
	p.update(session.Progress{Done: 400 << 20, Total: 1 << 30, Files: 3, FileCount: 10, Name: "photos/2024/IMG_0004.jpg"})
	for _, w := range []string{"send 300.0 MiB/1.0 GiB, 0/10 files, photos/2024/IMG_0001.jpg", "29%", "send 400.0 MiB/1.0 GiB, ", " left, 3/10 files, photos/2024/IMG_0004.jpg", "39%"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("the bar %q lacks %q", out.String(), w)
		}
	}
	// The figures themselves, at a known time: 100 MiB moved in 10 s
	// after 300 MiB taken from parts.
	for _, tc := range []struct {
		name string
		s    session.Progress
		want string
	}{
		{"tree", session.Progress{Done: 400 << 20, Total: 1 << 30, Files: 3, FileCount: 10, Name: "a/very/long/path/that/goes/on/and/on/IMG_0004.jpg"},
			"recv 400.0 MiB/1.0 GiB, 10.0 MiB/s, 1m2s left, 3/10 files, …hat/goes/on/and/on/IMG_0004.jpg"},
		{"one file", session.Progress{Done: 400 << 20, Total: 1 << 30, FileCount: 1, Name: "big.iso"},
			"recv 400.0 MiB/1.0 GiB, 10.0 MiB/s, 1m2s left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := figures("recv", tc.s, 100<<20, 10*time.Second); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestFailureNamesKeptPartOnce: a receiver whose session failed with a
// part kept names the part, its size and how to resume, once (the
// session's short note gives way to it).
func TestFailureNamesKeptPartOnce(t *testing.T) {
	var stdout, stderr bytes.Buffer
	e := &env{ctx: context.Background(), stdout: &stdout, stderr: &stderr}
	res := session.Result{Kept: &session.Kept{Path: "in/f.zcopy-part", Bytes: 1 << 20, Size: 4 << 20}}
	err := errors.New("f: unexpected EOF" + session.KeptNote)
	if code := finish(e, commands["recv"], "received", res, err, false, false); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := "zcopy recv: f: unexpected EOF (part kept: 1.0 MiB of 4.0 MiB in in/f.zcopy-part; the same command resumes it)\n"
	if stderr.String() != want {
		t.Errorf("got  %q\nwant %q", stderr.String(), want)
	}
}
