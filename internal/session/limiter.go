package session

import (
	"context"
	"sync"
	"time"
)

// A Limiter paces the body bytes a sender writes (send --bwlimit), over all
// the streams of a transfer that share it: after n more bytes, the sender
// waits until the bytes so far, at the rate, would have taken that long
// since the first. It paces what the engine has moved, a chunk at a time
// (ChunkSize, which the sender makes a tenth of a second's worth), so the
// rate holds on average and within a chunk the link runs at its own
// speed. Holes and records are not counted.
type Limiter struct {
	rate int64 // bytes per second

	mu    sync.Mutex
	start time.Time
	sent  int64
}

// NewLimiter returns a Limiter of rate bytes per second (> 0).
func NewLimiter(rate int64) *Limiter { return &Limiter{rate: rate} }

// chunk is the engine's chunk size under l: a tenth of a second of bytes,
// at least 64 KiB, at most 4 MiB; 0 (the engine's default) without l.
func (l *Limiter) chunk() int64 {
	if l == nil {
		return 0
	}
	return min(max(l.rate/10, 64<<10), 4<<20)
}

// batch is how many bytes of small files a sender gathers before it
// writes them: batchSize, or under l no more than a chunk.
func (l *Limiter) batch() int64 {
	if l == nil {
		return batchSize
	}
	return l.chunk()
}

// wait records n more bytes sent and waits until the rate allows them, or
// until ctx ends.
func (l *Limiter) wait(ctx context.Context, n int64) {
	if l == nil || n <= 0 {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if l.start.IsZero() {
		l.start = now
	}
	l.sent += n
	due := l.start.Add(time.Duration(float64(l.sent) / float64(l.rate) * float64(time.Second)))
	l.mu.Unlock()
	if d := due.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}
