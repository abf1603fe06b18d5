// Package server runs an accept loop that hands each connection to a
// handler in its own goroutine, and on shutdown stops accepting and waits
// for the connections in flight, so no transfer is cut short.
package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Serve accepts connections on ln and runs handle for each, concurrently,
// until ctx is done; then it closes ln and waits for the handlers in
// flight. With once set it serves the first connection only. A temporary
// accept error (such as running out of file descriptors) is reported to
// onError and retried after a pause, as net/http does.
func Serve(ctx context.Context, ln net.Listener, once bool, handle func(net.Conn), onError func(error)) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var pause time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				onError(err)
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				time.Sleep(pause)
				continue
			}
			return err
		}
		pause = 0
		if once {
			ln.Close()
			handle(c)
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(c)
		}()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
