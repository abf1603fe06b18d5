package session

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// TestBandwidthLimit sends a 2 MiB file and 64 small files (batched)
// under a Limiter of 4 MiB/s, in plaintext and inside TLS: the transfer
// takes at least the time the rate allows (a lower bound only, which no
// machine's speed can break), the bytes arrive, and in plaintext the file
// still goes by sendfile.
func TestBandwidthLimit(t *testing.T) {
	const rate = 4 << 20
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	big := bytes.Repeat([]byte("limit me "), (2<<20)/9)
	os.WriteFile(filepath.Join(src, "big"), big, 0o644)
	total := int64(len(big))
	for i := range 64 {
		b := bytes.Repeat([]byte{byte(i)}, 8<<10)
		os.WriteFile(filepath.Join(src, fmt.Sprintf("s%02d", i)), b, 0o644)
		total += int64(len(b))
	}
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []bool{true, false} {
		t.Run(map[bool]string{true: "plaintext", false: "tls"}[plain], func(t *testing.T) {
			dst := t.TempDir()
			root, _ := os.OpenRoot(dst)
			defer root.Close()
			c, s := tcpPair(t)
			done := make(chan error, 1)
			go func() {
				_, err := Receive(context.Background(), s, root, Options{Plaintext: plain})
				s.Close()
				done <- err
			}()
			begin := time.Now()
			res, err := Send(context.Background(), c, Items(items), Options{Plaintext: plain, Dialed: true, Limit: NewLimiter(rate)})
			took := time.Since(begin)
			if rerr := <-done; err != nil || rerr != nil {
				t.Fatalf("send %v, receive %v", err, rerr)
			}
			if least := time.Duration(float64(total) / rate * float64(time.Second)); took < least {
				t.Errorf("%d bytes at %d B/s took %v, less than %v", total, rate, took, least)
			}
			if plain && res.Method != zerocopy.Sendfile {
				t.Errorf("moved by %v under the limit, want sendfile", res.Method)
			}
			sameTree(t, src, dst)
		})
	}
}
