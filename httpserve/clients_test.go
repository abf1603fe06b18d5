package httpserve_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// TestWgetResume is the first half of acceptance point 2 of issue 5: wget
// -c resumes a download that was killed part way, and the result is the
// file. wget is killed once it has 1 MiB of the 32 MiB file, which at its
// rate limit (2 MB/s) it could not finish in less than 15 s: the download
// is interrupted in its middle however slowly the test runs, and the
// server is still sending it (31 MiB is far more than the sockets hold).
func TestWgetResume(t *testing.T) {
	wget := testbin.NeedTool(t, "wget")
	dir := t.TempDir()
	const size = 32 << 20
	src := makeFile(t, dir, "big.bin", size)
	ts := startServer(t, httpserve.Config{Dir: dir})
	out := t.TempDir()
	dst := filepath.Join(out, "big.bin")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wget, "-q", "--limit-rate=2m", "-P", out, ts.URL+"/big.bin")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if fi, err := os.Stat(dst); err == nil && fi.Size() >= 1<<20 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("wget never got 1 MiB")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	partial := fi.Size()
	if partial >= size {
		t.Fatalf("wget finished (%d bytes) before it was interrupted", partial)
	}
	t.Logf("interrupted after %d of %d bytes", partial, size)
	if r := ts.nthResponse(t, 1); r.Outcome != httpserve.Aborted {
		t.Errorf("the interrupted response's outcome is %q, want aborted", r.Outcome)
	}

	mustRun(t, 60*time.Second, wget, "-q", "-c", "-P", out, ts.URL+"/big.bin")
	if !sameFiles(t, src, dst) {
		t.Fatal("the resumed download differs from the file")
	}
	r := ts.nthResponse(t, 2)
	if r.Status != 206 || r.BodyBytes != size-partial {
		t.Errorf("resume: status %d with %d bytes, want 206 with the %d missing bytes", r.Status, r.BodyBytes, size-partial)
	}
	checkEngine(t, r, wantMethod())
}

// TestAria2 is the second half of acceptance point 2: aria2c with 8
// connections downloads a 1 GiB file byte-identical.
func TestAria2(t *testing.T) {
	aria := testbin.NeedTool(t, "aria2c")
	if testing.Short() {
		t.Skip("a 1 GiB download; skipped with -short")
	}
	dir := t.TempDir()
	const size = 1 << 30
	src := makeFile(t, dir, "big.bin", size)
	ts := startServer(t, httpserve.Config{Dir: dir})
	out := t.TempDir()
	start := time.Now()
	mustRun(t, 5*time.Minute, aria, "-x", "8", "-s", "8", "-d", out, "-o", "big.bin",
		"--file-allocation=none", "--allow-overwrite=true", "--auto-file-renaming=false",
		"--console-log-level=warn", "--summary-interval=0", "--download-result=hide", "--no-conf=true",
		ts.URL+"/big.bin")
	t.Logf("aria2c took %v", time.Since(start))
	if !sameFiles(t, src, filepath.Join(out, "big.bin")) {
		t.Fatal("aria2c's download differs from the file")
	}
	ts.stop(t) // every response has been recorded once Serve returns
	ranged := 0
	for _, r := range ts.responses() {
		if r.Status == 206 {
			ranged++
		}
		if r.BodyBytes > 0 && r.EngineBytes != r.BodyBytes {
			t.Errorf("%+v: not all sent by the engine", r)
		}
	}
	t.Logf("%d responses, %d of them ranges", len(ts.responses()), ranged)
	if ranged < 2 {
		t.Errorf("%d range responses: aria2c did not split the download", ranged)
	}
}
