package e2e

import (
	"testing"
	"time"
)

// TestSendBandwidthLimit: send --bwlimit 1024 (a bare number is KiB/s, as
// rsync's) moves a 1 MiB file in no less than a second (a lower bound,
// whatever the machine's speed), and a rate that is not one is a usage
// error.
func TestSendBandwidthLimit(t *testing.T) {
	dir := t.TempDir()
	path, data := randomFile(t, dir, "f", 1<<20)
	dst := t.TempDir()
	r := start(t, "recv", "--plaintext", "--listen", "127.0.0.1:0", "--dir", dst)
	begin := time.Now()
	code, _, stderr := run(t, "send", "--plaintext", "--bwlimit", "1024", "--to", r.Addr(t), path)
	took := time.Since(begin)
	r.Wait(t)
	if code != 0 {
		t.Fatalf("send exited %d: %s", code, stderr)
	}
	if took < time.Second {
		t.Errorf("1 MiB at 1 MiB/s took %v", took)
	}
	sameFile(t, dst+"/f", data)
	for _, bad := range []string{"0", "fast", "-1MiB"} {
		if code, _, stderr := run(t, "send", "--bwlimit", bad, "--to", "127.0.0.1:9", path); code != 2 {
			t.Errorf("--bwlimit %s: exit %d (%s), want 2", bad, code, stderr)
		}
	}
}
