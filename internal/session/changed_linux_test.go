package session

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestSmallFileRewrittenWhileRead rewrites a small file in place (same
// size, new bytes) between the sender's read of it and its check, as a
// writer racing the read would: the file must fail at the receiver as
// written while it was sent, never arrive as a possible mix, and the other
// files must arrive. Issue 13: small files were never re-checked after
// the read, so an in-place rewrite could land torn.
func TestSmallFileRewrittenWhileRead(t *testing.T) {
	src := smallTree(t)
	victim := filepath.Join(src, "d1", "f07")
	var once sync.Once
	testHookSmallRead = func(name string) {
		if name != victim {
			return
		}
		once.Do(func() {
			b, _ := os.ReadFile(victim)
			f, err := os.OpenFile(victim, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteAt(bytes.Repeat([]byte{0xEE}, len(b)), 0)
			f.Close()
		})
	}
	defer func() { testHookSmallRead = nil }()
	dst := t.TempDir()
	_, got, _, rerr := transfer(t, src, dst, Options{Warn: func(string) {}})
	if rerr == nil || len(got.Failed) != 1 || !strings.Contains(got.Failed[0], "d1/f07") || !strings.Contains(got.Failed[0], "written while it was sent") {
		t.Fatalf("receive: %v, failed %q; want one failure: d1/f07 written while it was sent", rerr, got.Failed)
	}
	if _, err := os.Stat(filepath.Join(dst, "src", "d1", "f07")); err == nil {
		t.Error("the rewritten file was placed under its name")
	}
	if got.Files != 120 {
		t.Errorf("%d files arrived, want the other 120", got.Files)
	}
}
