package oncelistener

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowClose counts its Closes, each of which takes a while.
type slowClose struct {
	net.Listener
	closes atomic.Int32
}

func (l *slowClose) Close() error {
	l.closes.Add(1)
	time.Sleep(50 * time.Millisecond)
	return l.Listener.Close()
}

// TestConcurrentCloseWaits: a Close made while another is in progress
// returns only once the listener is closed (a peer is then refused), and
// the wrapped listener is closed once; every caller gets its error.
func TestConcurrentCloseWaits(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	sc := &slowClose{Listener: inner}
	ln := Wrap(sc)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			errs[i] = ln.Close()
			if c, err := net.Dial("tcp", inner.Addr().String()); err == nil {
				c.Close()
				t.Errorf("Close %d returned with the listener still open", i)
			}
		})
	}
	wg.Wait()
	if n := sc.closes.Load(); n != 1 {
		t.Errorf("wrapped listener closed %d times, want 1", n)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("Close %d: %v", i, err)
		}
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}
