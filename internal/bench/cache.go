package bench

import (
	"context"
	"os"
	"time"
)

// evict drops the file from the page cache and returns the fraction still
// resident. Pages that the last trial's socket buffers still reference
// cannot be dropped: Linux frees a received buffer on the CPU that
// allocated it, deferred until that CPU next processes incoming packets,
// which on an idle machine may be never. So evict makes each CPU process
// a packet (kickNetRx) and tries again, for up to a second.
func evict(ctx context.Context, path string) (float64, error) {
	deadline := time.Now().Add(time.Second)
	for {
		if err := dropCache(path); err != nil {
			return 0, err
		}
		cached := residency(path)
		if cached <= 0 || time.Now().After(deadline) {
			return cached, nil
		}
		kickNetRx()
		select {
		case <-ctx.Done():
			return cached, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// syncFile flushes a file's dirty pages to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
