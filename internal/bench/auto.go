package bench

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/zcopy/zcopy/zerocopy"
)

// autoProbeBytes is how much of the file probeAuto sends.
const autoProbeBytes = 1 << 20

// probeAuto sends the start of the file at path (at most autoProbeBytes)
// by zerocopy.Auto into a TCP connection over loopback, in this process,
// and returns the method the engine reports having run: the method zcopy's
// unencrypted transfers use on this host, found by running it rather than
// by restating the engine's rule.
func probeAuto(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	drained := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			drained <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		drained <- err
	}()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return "", err
	}
	st, err := zerocopy.SendFile(ctx, c, f, 0, min(fi.Size(), autoProbeBytes), nil)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if derr := <-drained; err == nil {
		err = derr
	}
	if err != nil {
		return "", err
	}
	return st.Method.String(), nil
}
