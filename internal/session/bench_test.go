package session

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/tree"
)

// benchDir is where benchmarks write what they receive: tmpfs when there
// is one, so that a disk's speed is not what is measured.
func benchDir(b *testing.B) string {
	b.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "zcopy-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// benchListener listens on loopback (closed when b ends) and returns the
// accepting end's Options: token, mode and, unless plaintext, a
// certificate made once, as a listening zcopy does.
func benchListener(b *testing.B, token string, plaintext bool) (net.Listener, Options) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	o := Options{Token: token, Plaintext: plaintext}
	if !plaintext {
		cert, err := secure.NewCertificate()
		if err != nil {
			b.Fatal(err)
		}
		o.Certificate = &cert
	}
	return ln, o
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTransfer moves one file of $ZCOPY_BENCH_SIZE bytes (256 MiB by
// default; the figures use 1 GiB) from Send to Receive over
// loopback, encrypted (TLS 1.3, the default) and --plaintext, over one
// and two streams, and reports the CPU both ends spent per GiB (one
// process: sender and receiver together). Compare the rows of one run:
//
//	ZCOPY_BENCH_SIZE=1073741824 go test -run '^$' -bench Transfer -benchtime 5x ./internal/session/
func BenchmarkTransfer(b *testing.B) {
	size := int64(256 << 20)
	if s := os.Getenv("ZCOPY_BENCH_SIZE"); s != "" {
		fmt.Sscan(s, &size)
	}
	src := filepath.Join(b.TempDir(), "big.bin")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for n := int64(0); n < size; n += int64(len(chunk)) {
		chunk[0]++
		f.Write(chunk[:min(int64(len(chunk)), size-n)])
	}
	f.Close()
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		b.Fatal(err)
	}
	token := secure.NewToken()
	for _, tc := range []struct {
		mode      string
		plaintext bool
	}{{"tls", false}, {"plaintext", true}} {
		for _, streams := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/streams=%d", tc.mode, streams), func(b *testing.B) {
				dst := benchDir(b)
				root, err := os.OpenRoot(dst)
				if err != nil {
					b.Fatal(err)
				}
				defer root.Close()
				ln, o := benchListener(b, token, tc.plaintext)
				groups := &Groups{}
				defer groups.Close()
				var wg sync.WaitGroup
				serve := func() {
					for range streams {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						wg.Add(1)
						go func() {
							defer wg.Done()
							defer c.Close()
							ro := o
							ro.Groups = groups
							if _, err := Receive(context.Background(), c, root, ro); err != nil {
								b.Error(err)
							}
						}()
					}
				}
				dial := func(ctx context.Context) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", ln.Addr().String())
				}
				so := o
				so.Dialed, so.Certificate = true, nil
				b.SetBytes(size)
				b.ResetTimer()
				cpu := cpuTime()
				for range b.N {
					go serve()
					res, err := SendStreams(context.Background(), dial, items, streams, so)
					wg.Wait()
					if err != nil || res.BytesSent != size {
						b.Fatalf("sent %d of %d bytes: %v", res.BytesSent, size, err)
					}
					b.StopTimer()
					os.Remove(filepath.Join(dst, "big.bin"))
					b.StartTimer()
				}
				used := cpuTime() - cpu
				b.ReportMetric(used.Seconds()/(float64(size)*float64(b.N)/(1<<30)), "cpu-s/GiB")
			})
		}
	}
}

// BenchmarkHandshake measures a session's set-up over loopback, from the
// dial to both ends past the handshake (TLS, Hellos, the token's proofs):
// what a transfer waits before its first body byte.
//
//	go test -run '^$' -bench Handshake ./internal/session/
func BenchmarkHandshake(b *testing.B) {
	token := secure.NewToken()
	for _, tc := range []struct {
		mode      string
		plaintext bool
	}{{"tls", false}, {"plaintext", true}} {
		b.Run(tc.mode, func(b *testing.B) {
			ln, so := benchListener(b, token, tc.plaintext)
			co := Options{Token: token, Plaintext: tc.plaintext, Dialed: true}
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				done := make(chan error, 1)
				go func() {
					c, err := ln.Accept()
					if err != nil {
						done <- err
						return
					}
					defer c.Close()
					var res Result
					_, end, _, err := begin(ctx, c, 4<<10, proto.RoleReceiver, &so, &res)
					end()
					done <- err
				}()
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				var res Result
				_, end, _, err := begin(ctx, c, 4<<10, proto.RoleSender, &co, &res)
				end()
				if err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/handshake")
		})
	}
}
