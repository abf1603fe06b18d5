package httpserve_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/zerocopy"
)

// dataSegsIn returns how many data segments c has received (TCP_INFO).
func dataSegsIn(tb testing.TB, c *net.TCPConn) uint32 {
	tb.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var info *unix.TCPInfo
	var serr error
	rc.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if serr != nil {
		tb.Fatal(serr)
	}
	return info.Data_segs_in
}

// TestCorkSegments checks on the wire (the client's TCP_INFO) that a corked
// response leaves as one segment train: a 20 KiB file (sent by sendfile:
// more than zerocopy.GatherMax) with its header fits in one loopback segment
// when corked (five responses, each sent within the kernel's 200 ms cork
// ceiling), and takes two (header, then body) when not (at least one
// response of up to 50). A 4 KiB file is read and written with its header
// in one call, corked or not: one segment (five responses).
func TestCorkSegments(t *testing.T) {
	dir := t.TempDir()
	makeFile(t, dir, "20k.bin", 20<<10)
	makeFile(t, dir, "4k.bin", 4<<10)
	for _, c := range []struct {
		name       string
		file       string
		size       int64
		noCork     bool
		method     zerocopy.Method
		wantCorked bool
	}{
		{"corked", "20k.bin", 20 << 10, false, wantMethod(), true},
		{"uncorked", "20k.bin", 20 << 10, true, wantMethod(), false},
		{"gathered", "4k.bin", 4 << 10, false, zerocopy.ReadWrite, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, httpserve.Config{Dir: dir, NoCork: c.noCork})
			nc, err := net.Dial("tcp", ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			tc := nc.(*net.TCPConn)
			tc.SetDeadline(time.Now().Add(60 * time.Second))
			br := bufio.NewReader(tc)
			// Linux holds corked data for 200 ms at most: a response whose
			// send took longer may have left in pieces by the kernel's
			// timer, whatever the server did, and is not counted. The
			// uncorked control asks until a response shows the split (at
			// most 50 times), rather than a fixed five.
			const corkCeiling = 200 * time.Millisecond
			var segs []uint32
			for i, done := 0, false; !done; i++ {
				if i == 50 {
					t.Fatalf("50 responses and no conclusive measurement: data segments per response %v", segs)
				}
				before := dataSegsIn(t, tc)
				fmt.Fprintf(tc, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", c.file)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != c.size {
					t.Fatalf("body %d bytes, %v", n, err)
				}
				got := dataSegsIn(t, tc) - before
				r := ts.nthResponse(t, i+1)
				checkEngine(t, r, c.method)
				if r.Send.Corked != c.wantCorked {
					t.Errorf("Send.Corked = %v, want %v", r.Send.Corked, c.wantCorked)
				}
				if c.wantCorked && r.Send.Duration >= corkCeiling {
					t.Logf("response %d took %v to send, past the kernel's cork ceiling: not counted", i+1, r.Send.Duration)
					continue
				}
				segs = append(segs, got)
				switch {
				case c.wantCorked || c.method == zerocopy.ReadWrite:
					if got != 1 {
						t.Errorf("a response came in %d data segments, want 1 (all: %v)", got, segs)
						done = true
					}
					done = done || len(segs) == 5
				default:
					// The control: without the cork the header leaves on its
					// own. (Linux's autocorking can merge a pair now and
					// then, so one split response is enough to show it.)
					done = got == 2
				}
			}
			t.Logf("data segments per response: %v", segs)
		})
	}
}
