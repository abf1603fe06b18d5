package testbin

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// sink is a server that sends each connection reply (if not nil) and
// half-closes it, and counts what arrives until the end of stream.
type sink struct {
	ln  net.Listener
	got chan int64 // what each connection sent, at its end
}

func newSink(t *testing.T, reply []byte) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln, got: make(chan int64, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if reply != nil {
					c.Write(reply)
					c.(*net.TCPConn).CloseWrite()
				}
				n, _ := io.Copy(io.Discard, c)
				s.got <- n
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// push writes data on c in the background and half-closes it; the
// returned channel has the write's error.
func push(c *net.TCPConn, data []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		c.CloseWrite()
		done <- err
	}()
	return done
}

func received(t *testing.T, s *sink) int64 {
	t.Helper()
	select {
	case n := <-s.got:
		return n
	case <-time.After(HangGuard):
		t.Fatal("the server got no end of stream (a hang guard)")
		return 0
	}
}

// TestRelayHold holds a push at a known byte, then lets the rest through.
func TestRelayHold(t *testing.T) {
	s := newSink(t, nil)
	r := NewRelay(t, s.ln.Addr().String(), Push)
	const hold, size = 100_000, 4 << 20
	r.Hold(hold)
	done := push(dial(t, r.Addr()), make([]byte, size))
	r.Held(HangGuard)
	if got := r.Bytes(); got != hold {
		t.Fatalf("held after %d bytes; want %d", got, hold)
	}
	r.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := received(t, s); n != size {
		t.Fatalf("the server got %d bytes; want %d", n, size)
	}
	if got := r.Bytes(); got != size || r.Conns() != 1 {
		t.Fatalf("the relay forwarded %d bytes over %d connections; want %d over 1", got, r.Conns(), size)
	}
}

// TestRelayHoldEach holds every connection at its own known byte and
// tells each hold on the Notify channel.
func TestRelayHoldEach(t *testing.T) {
	s := newSink(t, nil)
	r := NewRelay(t, s.ln.Addr().String(), Push)
	const hold, size, conns = 50_000, 1 << 20, 3
	ready := make(chan struct{}, conns)
	r.HoldEach(hold)
	r.Notify(ready)
	var dones []<-chan error
	for range conns {
		dones = append(dones, push(dial(t, r.Addr()), make([]byte, size)))
	}
	r.HeldEach(conns, HangGuard)
	if got := r.Bytes(); got != conns*hold {
		t.Fatalf("held after %d bytes; want %d", got, conns*hold)
	}
	for range conns {
		select {
		case <-ready:
		case <-time.After(HangGuard):
			t.Fatal("a hold was not notified")
		}
	}
	r.Release()
	for _, done := range dones {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := received(t, s); n != size {
			t.Fatalf("the server got %d bytes; want %d", n, size)
		}
	}
}

// TestRelayPullReset holds a pull (the server sends) and resets it: the
// client sees a reset, not an end of stream.
func TestRelayPullReset(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 4<<20)
	s := newSink(t, data)
	r := NewRelay(t, s.ln.Addr().String(), Pull)
	r.Hold(10_000)
	c := dial(t, r.Addr())
	r.Held(HangGuard)
	r.Reset()
	c.SetReadDeadline(time.Now().Add(HangGuard))
	n, err := io.Copy(io.Discard, c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the client read %d bytes and %v; want ECONNRESET", n, err)
	}
	if n > 10_000 {
		t.Fatalf("the client read %d bytes past a hold at 10000", n)
	}
}

// TestRelayThrottle lets a throttled push through in the end.
func TestRelayThrottle(t *testing.T) {
	s := newSink(t, nil)
	r := NewRelay(t, s.ln.Addr().String(), Push)
	r.Throttle(4 << 20)
	const size = 256 << 10
	if err := <-push(dial(t, r.Addr()), make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if n := received(t, s); n != size {
		t.Fatalf("the server got %d bytes; want %d", n, size)
	}
}
