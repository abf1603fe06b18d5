package zerocopy

import (
	"bytes"
	"context"
	"maps"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dataSegsOut returns the data segments c has sent (TCP_INFO).
func dataSegsOut(t *testing.T, c *net.TCPConn) (segs uint32, nodelay, cork int) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		info, e := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if e != nil {
			err = e
			return
		}
		segs = info.Data_segs_out
		nodelay, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY)
		cork, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK)
	})
	if err != nil {
		t.Fatal(err)
	}
	return segs, nodelay, cork
}

// corkCeiling is how long Linux holds corked data at most: a corked send
// that took longer may have left in pieces by the kernel's timer, whatever
// the engine did, and proves nothing about the cork.
const corkCeiling = 200 * time.Millisecond

// TestCorkSegments shows that a small header plus a 64 KiB body leave in
// fewer TCP segments corked than uncorked, for every send method, and that
// the socket's TCP_NODELAY is restored afterwards. A corked send that took
// longer than the kernel's cork ceiling is measured again (up to ten
// times), so that a stalled machine cannot pass for an engine that does not
// cork.
func TestCorkSegments(t *testing.T) {
	path, data := makeFile(t, 64<<10)
	header := bytes.Repeat([]byte("H"), 100)
	trailer := []byte("T\n")
	want := append(append(append([]byte{}, header...), data...), trailer...)
	for _, m := range SendMethods() {
		t.Run(m.String(), func(t *testing.T) {
			segs := map[bool]uint32{}
			for try, corked := 0, false; ; {
				c, s := tcpPair(t)
				got := readAllAsync(s)
				before, _, _ := dataSegsOut(t, c)
				st, err := SendFile(context.Background(), c, openFile(t, path), 0, -1, &SendOptions{
					Method: m, Header: header, Trailer: trailer, NoCork: !corked,
				})
				if err != nil {
					t.Fatal(err)
				}
				if st.Corked != corked {
					t.Errorf("Stats.Corked = %v, want %v", st.Corked, corked)
				}
				after, nodelay, cork := dataSegsOut(t, c)
				if nodelay != 1 || cork != 0 {
					t.Errorf("after the send TCP_NODELAY=%d TCP_CORK=%d, want 1 and 0", nodelay, cork)
				}
				c.CloseWrite()
				if b := <-got; !bytes.Equal(b, want) {
					t.Fatalf("received %d bytes, want %d", len(b), len(want))
				}
				if corked && st.Duration >= corkCeiling {
					if try++; try == 10 {
						t.Fatalf("ten corked sends each took longer than the kernel's cork ceiling (%v): nothing to measure", corkCeiling)
					}
					t.Logf("the corked send took %v, past the kernel's cork ceiling: measured again", st.Duration)
					continue
				}
				segs[corked] = after - before
				if corked {
					break
				}
				corked = true
			}
			t.Logf("data segments: uncorked %d, corked %d", segs[false], segs[true])
			if segs[true] >= segs[false] {
				t.Errorf("corked send used %d segments, uncorked %d: want fewer", segs[true], segs[false])
			}
		})
	}
}

// TestGather: with Auto, a body of at most GatherMax bytes goes out with its
// header and trailer in one write (one data segment, no cork, read and
// write only); a larger body, or a method named by the caller, is corked
// and sent by that method. Each way into the gathered send is taken: the
// engine's own fstat, the caller's stat (Info: sendSmall, straight from
// SendFile), and a context that can be cancelled (which needs send's
// watch).
func TestGather(t *testing.T) {
	header := bytes.Repeat([]byte("H"), 100)
	trailer := []byte("T\n")
	tests := []struct {
		name       string
		size       int64
		method     Method
		wantMethod Method
		wantCorked bool
		wantCalls  int64 // system calls after any fstat: pread and write
	}{
		{"4KiB auto", 4 << 10, Auto, ReadWrite, false, 2},
		{"GatherMax auto", GatherMax, Auto, ReadWrite, false, 2},
		{"1 byte auto", 1, Auto, ReadWrite, false, 2},
		{"GatherMax+1 auto", GatherMax + 1, Auto, Sendfile, true, 0},
		{"4KiB sendfile", 4 << 10, Sendfile, Sendfile, true, 0},
	}
	ways := []struct {
		name        string
		info        bool // the caller's stat in SendOptions.Info
		cancellable bool
	}{
		{"own fstat", false, false},
		{"caller's stat", true, false},
		{"cancellable", true, true},
	}
	for _, tc := range tests {
		for _, way := range ways {
			t.Run(tc.name+"/"+way.name, func(t *testing.T) {
				path, data := makeFile(t, int(tc.size))
				want := append(append(append([]byte{}, header...), data...), trailer...)
				f := openFile(t, path)
				o := &SendOptions{Method: tc.method, Header: header, Trailer: trailer}
				fstat := int64(1)
				if way.info {
					fi, err := f.Stat()
					if err != nil {
						t.Fatal(err)
					}
					o.Info, fstat = fi, 0
				}
				ctx := sendContext(t, way.cancellable)
				c, s := tcpPair(t)
				got := readAllAsync(s)
				before, _, _ := dataSegsOut(t, c)
				var st Stats
				by := movedBy(t, func() {
					var err error
					if st, err = SendFile(ctx, c, f, 0, -1, o); err != nil {
						t.Fatal(err)
					}
				})
				after, _, _ := dataSegsOut(t, c)
				c.CloseWrite()
				if b := <-got; !bytes.Equal(b, want) {
					t.Fatalf("received %d bytes, want %d", len(b), len(want))
				}
				if st.Method != tc.wantMethod || st.Corked != tc.wantCorked || st.Bytes != tc.size {
					t.Errorf("Stats %+v, want method %v, corked %v, %d bytes", st, tc.wantMethod, tc.wantCorked, tc.size)
				}
				if tc.wantCalls > 0 {
					if st.Syscalls != fstat+tc.wantCalls {
						t.Errorf("%d system calls, want %d (%d fstat, then pread and write)", st.Syscalls, fstat+tc.wantCalls, fstat)
					}
					if after-before != 1 {
						t.Errorf("%d data segments, want 1", after-before)
					}
					if w := map[string]int64{"write": tc.size}; !maps.Equal(by, w) {
						t.Errorf("bytes moved by call: %v, want %v", by, w)
					}
				}
			})
		}
	}
}
