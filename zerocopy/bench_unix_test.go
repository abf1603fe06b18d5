//go:build unix

package zerocopy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmarks measure one side only: the peer is this test binary
// re-executed (ZCOPY_BENCH_PEER), so its CPU time and context switches are
// not counted. "sink" accepts one connection and discards what arrives by
// splice (or read); "source:PATH" accepts one connection and sends PATH over
// it again and again by sendfile.

// benchPeer runs a peer role and returns the exit code.
func benchPeer(role string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	c, err := ln.Accept()
	if err != nil {
		return 1
	}
	defer c.Close()
	switch {
	case role == "sink":
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return 1
		}
		ReceiveFile(context.Background(), devnull, c, -1, -1, nil)
	case strings.HasPrefix(role, "source:"):
		f, err := os.Open(strings.TrimPrefix(role, "source:"))
		if err != nil {
			return 1
		}
		for {
			if _, err := SendFile(context.Background(), c, f, 0, -1, nil); err != nil {
				return 0
			}
		}
	}
	return 0
}

// startPeer starts a peer process and connects to it.
func startPeer(b *testing.B, role string) *net.TCPConn {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "ZCOPY_BENCH_PEER="+role)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimSpace(addr))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c.(*net.TCPConn)
}

// usage is this process's CPU time (user and system, and user alone) and
// context switches so far.
type usage struct {
	cpu, user time.Duration
	ctxsw     int64
}

func getUsage(b *testing.B) usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return usage{
		cpu:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		user:  time.Duration(ru.Utime.Nano()),
		ctxsw: int64(ru.Nvcsw) + int64(ru.Nivcsw), // int32 on 32-bit Linux
	}
}

// report adds CPU, system calls and context switches per operation.
func report(b *testing.B, before usage, syscalls int64) {
	after := getUsage(b)
	n := float64(b.N)
	b.ReportMetric(float64(syscalls)/n, "syscalls/op")
	b.ReportMetric(float64(after.ctxsw-before.ctxsw)/n, "ctxsw/op")
	b.ReportMetric(float64(after.cpu-before.cpu)/n, "cpu-ns/op")
	b.ReportMetric(float64(after.user-before.user)/n, "user-ns/op")
}

var benchSizes = []struct {
	name string
	size int64
}{
	{"64KiB", 64 << 10},
	{"1MiB", 1 << 20},
	{"64MiB", 64 << 20},
}

// BenchmarkSend sends a page-cached file to a peer process by each method.
func BenchmarkSend(b *testing.B) {
	path, _ := makeFile(b, 64<<20)
	for _, m := range SendMethods() {
		for _, sz := range benchSizes {
			b.Run(m.String()+"/"+sz.name, func(b *testing.B) {
				c := startPeer(b, "sink")
				f := openFile(b, path)
				opts := &SendOptions{Method: m}
				b.SetBytes(sz.size)
				b.ReportAllocs()
				var syscalls int64
				before := getUsage(b)
				for b.Loop() {
					st, err := SendFile(context.Background(), c, f, 0, sz.size, opts)
					if err != nil {
						b.Fatal(err)
					}
					syscalls += st.Syscalls
				}
				report(b, before, syscalls)
			})
		}
	}
}

// BenchmarkReceive receives from a peer process that sends by sendfile,
// into /dev/null, by each receive method.
func BenchmarkReceive(b *testing.B) {
	path, _ := makeFile(b, 64<<20)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	for _, m := range ReceiveMethods() {
		for _, sz := range benchSizes {
			b.Run(m.String()+"/"+sz.name, func(b *testing.B) {
				c := startPeer(b, "source:"+path)
				opts := &ReceiveOptions{Method: m}
				b.SetBytes(sz.size)
				b.ReportAllocs()
				var syscalls int64
				before := getUsage(b)
				for b.Loop() {
					st, err := ReceiveFile(context.Background(), devnull, c, -1, sz.size, opts)
					if err != nil {
						b.Fatal(err)
					}
					syscalls += st.Syscalls
				}
				report(b, before, syscalls)
			})
		}
	}
}

// BenchmarkIOCopy is the baseline a Go programmer gets for free: io.Copy
// from the file to the connection (net's TCPConn.ReadFrom uses sendfile for
// an *os.File behind an io.LimitedReader) and the same with the connection
// hidden behind a plain io.Writer (a user-space copy through a 32 KiB
// buffer). It issues its system calls itself, so none are counted.
func BenchmarkIOCopy(b *testing.B) {
	path, _ := makeFile(b, 64<<20)
	for _, hidden := range []bool{false, true} {
		name := "tcpconn"
		if hidden {
			name = "writer"
		}
		b.Run(name+"/64MiB", func(b *testing.B) {
			c := startPeer(b, "sink")
			var w io.Writer = c
			if hidden {
				w = hideFD{c}
			}
			f := openFile(b, path)
			b.SetBytes(64 << 20)
			before := getUsage(b)
			for b.Loop() {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(w, io.LimitReader(f, 64<<20)); err != nil {
					b.Fatal(err)
				}
			}
			report(b, before, 0)
		})
	}
}

// BenchmarkSendGathered sends a 4 KiB file with a response header, as an
// HTTP server answers a small request, to /dev/null (a descriptor whose
// write costs little, so that the figures are the sender's own): by
// SendFile (Auto, which gathers header and body into one write), and, as
// the floor, by the two system calls that send makes, issued directly
// (pread into a buffer after the header, one write). What SendFile costs
// above the floor is its bookkeeping, paid once per response.
func BenchmarkSendGathered(b *testing.B) {
	const size = 4 << 10
	path, _ := makeFile(b, size)
	header := []byte("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nContent-Type: application/octet-stream\r\n\r\n")
	for _, floor := range []bool{false, true} {
		name := "SendFile"
		if floor {
			name = "floor"
		}
		b.Run(name, func(b *testing.B) {
			null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer null.Close()
			rc, err := null.SyscallConn()
			if err != nil {
				b.Fatal(err)
			}
			// Its RawConn taken once, as a server keeps a connection's.
			dst := &cachedFile{File: null, rc: rc}
			f := openFile(b, path)
			fi, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			opts := &SendOptions{Header: header, Info: fi}
			buf := make([]byte, len(header)+size)
			copy(buf, header)
			fd := int(f.Fd())
			b.SetBytes(size)
			b.ReportAllocs()
			before := getUsage(b)
			for b.Loop() {
				if !floor {
					if _, err := SendFile(context.Background(), dst, f, 0, size, opts); err != nil {
						b.Fatal(err)
					}
					continue
				}
				if n, err := unix.Pread(fd, buf[len(header):], 0); err != nil || n != size {
					b.Fatal(n, err)
				}
				if _, err := null.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			report(b, before, 2*int64(b.N))
		})
	}
}

// cachedFile is a file whose RawConn was taken once.
type cachedFile struct {
	*os.File
	rc syscall.RawConn
}

func (f *cachedFile) SyscallConn() (syscall.RawConn, error) { return f.rc, nil }
