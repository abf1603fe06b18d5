package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRawSendFromPipe sends what a shell pipeline writes, named "-" and
// "/dev/stdin", with the default method: the sender must fall back from
// sendfile (which refuses a pipe with ESPIPE) to readwrite, wait while the
// pipe is empty, and the receiver get every byte. The writer is slower than
// the sender, so the sender does find the pipe empty. Issue 13: `printf
// data | zcopy send --raw ... /dev/stdin` failed with ESPIPE, and then with
// EAGAIN from a read that did not wait.
func TestRawSendFromPipe(t *testing.T) {
	want := bytes.Repeat([]byte("from a pipe\n"), 200000) // 2.4 MB
	for _, name := range []string{"-", "/dev/stdin"} {
		t.Run(strings.TrimPrefix(name, "/dev/"), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "-o", out)
			cmd := exec.Command(zcopyBin, "send", "--raw", "--json", "--to", r.Addr(t), name)
			w, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Write in pieces, each a separate write(2) on the pipe.
			for chunk := range slices.Chunk(want, 64<<10) {
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			err = cmd.Wait()
			code, rerr := r.Wait(t)
			t.Logf("sender: %v %s %s; receiver: exit %d %s", err, strings.TrimSpace(stderr.String()), stdout.String(), code, strings.TrimSpace(rerr))
			if err != nil || code != 0 {
				t.Fatalf("sender: %v; receiver exited %d", err, code)
			}
			if !strings.Contains(stdout.String(), `"method":"readwrite"`) {
				t.Errorf("sent by %s, want readwrite after sendfile's refusal", stdout.String())
			}
			if got, _ := os.ReadFile(out); !bytes.Equal(got, want) {
				t.Errorf("received %d bytes, want %d", len(got), len(want))
			}
		})
	}
}
