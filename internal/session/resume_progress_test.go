package session

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/tree"
)

// TestResumedProgressStartsAtThePart: a receiver that resumes a part
// reports, from its first progress call, the part's bytes as done and
// the whole file as the total; both ends count the part's bytes as
// resumed, and only the rest crosses the wire.
func TestResumedProgressStartsAtThePart(t *testing.T) {
	const size = 4 << 20
	src := filepath.Join(t.TempDir(), "f.bin")
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	run := func(o Options) (sent, got Result, rerr error) {
		items, err := tree.Walk([]string{src}, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		if o.Progress == nil {
			// The first run: the receiver gives up after 1 MiB.
			o.Progress = func(p Progress) {
				if p.Done >= 1<<20 {
					rcancel()
				}
			}
		}
		c, s := tcpPair(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			got, rerr = Receive(rctx, s, root, o)
			s.Close()
		}()
		sent, _ = Send(ctx, c, Items(items), Options{Dialed: true})
		c.Close()
		<-done
		return sent, got, rerr
	}
	if _, got, err := run(Options{Resume: true}); err == nil || got.Kept == nil {
		t.Fatalf("the first run: %v, kept %+v; want it cut short with a part kept", err, got.Kept)
	}
	fi, err := os.Stat(filepath.Join(dst, "f.bin"+PartSuffix))
	if err != nil {
		t.Fatal(err)
	}
	kept := fi.Size()
	var first *Progress
	sent, got, err := run(Options{Resume: true, Progress: func(p Progress) {
		if first == nil {
			first = &p
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if first == nil || first.Done < kept || first.Total != size || first.FileCount != 1 {
		t.Errorf("first progress %+v; want done from %d of %d, 1 file", first, kept, size)
	}
	if got.Resumed != kept || sent.Resumed != kept || got.BytesSent != size-kept {
		t.Errorf("resumed %d (receiver), %d (sender), %d sent; want %d, %d, %d", got.Resumed, sent.Resumed, got.BytesSent, kept, kept, size-kept)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "f.bin")); string(b) != string(data) {
		t.Error("the resumed file differs from the source")
	}
}
