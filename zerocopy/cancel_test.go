package zerocopy

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestSendCancel cancels a send to a peer that reads one byte and then
// nothing, once that byte has arrived (so the send has moved something,
// and soon parks on the full socket buffer): it must return ctx's error,
// with the bytes it moved, and leave no goroutine behind. The cancel
// follows the bytes, not a timer: on a slow machine a timer could fire
// before the send had moved anything.
func TestSendCancel(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	path, _ := makeFile(t, 32<<20)
	for _, m := range SendMethods() {
		t.Run(m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				s.SetReadDeadline(time.Now().Add(time.Minute)) // a hang guard
				s.Read(make([]byte, 1))
				cancel()
			}()
			st, err := SendFile(ctx, c, openFile(t, path), 0, -1, &SendOptions{Method: m})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if st.Bytes == 0 || st.Bytes >= 32<<20 {
				t.Errorf("moved %d bytes before the cancel; want some, not all", st.Bytes)
			}
			t.Log(err)
		})
	}
}

// TestReceiveCancel cancels a receive waiting on a silent peer, once it has
// written the 24 bytes the peer sent (its progress says so; a timer could
// fire before it had read them): it must return ctx's error with those 24
// bytes.
func TestReceiveCancel(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	for _, m := range ReceiveMethods() {
		t.Run(m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			c.Write([]byte("some bytes, then silence"))
			f, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := &ReceiveOptions{Method: m, Progress: func(n int64) {
				if n >= 24 {
					cancel()
				}
			}}
			st, err := ReceiveFile(ctx, f, s, 0, -1, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if st.Bytes != 24 {
				t.Errorf("received %d bytes, want 24", st.Bytes)
			}
		})
	}
}

// TestPeerClosesMidSend has the receiver read a little and close: the send
// must fail with the socket's error (EPIPE or ECONNRESET), not hang, and
// leave no goroutine behind.
func TestPeerClosesMidSend(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	path, _ := makeFile(t, 64<<20)
	for _, m := range SendMethods() {
		t.Run(m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			go func() {
				io.CopyN(io.Discard, s, 1<<20)
				s.Close()
			}()
			st, err := SendFile(context.Background(), c, openFile(t, path), 0, -1, &SendOptions{Method: m})
			if err == nil {
				t.Fatal("send to a closed peer succeeded")
			}
			if errors.Is(err, ErrTruncated) {
				t.Errorf("a closed peer reported as truncation: %v", err)
			}
			if st.Bytes >= 64<<20 {
				t.Errorf("moved all %d bytes", st.Bytes)
			}
			t.Log(err)
		})
	}
}

// TestDeadline shows that the connection's own write deadline applies.
func TestDeadline(t *testing.T) {
	path, _ := makeFile(t, 32<<20)
	c, _ := tcpPair(t)
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := SendFile(context.Background(), c, openFile(t, path), 0, -1, nil)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want os.ErrDeadlineExceeded", err)
	}
}

// deadlineConn is a TCP connection whose SetWriteDeadline tells, on
// pastSet, when a deadline in the past was set (the engine waking a send
// for a cancellation). Its descriptor stays visible (syscall.Conn), so the
// fast paths run.
type deadlineConn struct {
	*net.TCPConn
	pastSet chan struct{}
}

func (c *deadlineConn) SetWriteDeadline(d time.Time) error {
	err := c.TCPConn.SetWriteDeadline(d)
	if !d.IsZero() && d.Before(time.Now()) {
		select {
		case c.pastSet <- struct{}{}:
		default:
		}
	}
	return err
}

// TestCancelSurvivesDeadlineReset cancels a send from its Progress
// function, waits until the engine has set its past write deadline, and
// then moves the deadline a minute ahead, as a caller that extends an idle
// timeout on progress does: no body byte may move after the cancel. Issue
// 13: a later deadline reset overwrote the cancellation's, and Send kept
// writing ~7 MB after the cancel.
func TestCancelSurvivesDeadlineReset(t *testing.T) {
	defer goleak.VerifyNone(t, leakOpts...)
	path, _ := makeFile(t, 32<<20)
	for _, m := range SendMethods() {
		t.Run(m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			go io.Copy(io.Discard, s)
			dc := &deadlineConn{TCPConn: c, pastSet: make(chan struct{}, 1)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var atCancel int64 = -1
			opts := &SendOptions{Method: m, ChunkSize: 256 << 10, Progress: func(n int64) {
				if atCancel >= 0 || n < 1<<20 {
					return
				}
				atCancel = n
				cancel()
				<-dc.pastSet
				dc.SetWriteDeadline(time.Now().Add(time.Minute))
			}}
			st, err := SendFile(ctx, dc, openFile(t, path), 0, -1, opts)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if st.Bytes != atCancel {
				t.Errorf("%d body bytes moved after the cancel (%d at the cancel, %d in all)", st.Bytes-atCancel, atCancel, st.Bytes)
			}
		})
	}
}
