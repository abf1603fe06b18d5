package httpserve_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/zcopy/zcopy/httpserve"
)

// BenchmarkServe measures one keep-alive GET per iteration, in parallel
// over GOMAXPROCS connections, for the server's configurations and, as the
// baseline, Go's http.FileServer on the same directory. Client and server
// share the process, so the figures compare configurations, not servers.
func BenchmarkServe(b *testing.B) {
	dir := b.TempDir()
	sizes := []struct {
		name string
		size int64
	}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}}
	for _, s := range sizes {
		makeFile(b, dir, s.name, s.size)
	}
	configs := []struct {
		name string
		cfg  *httpserve.Config
	}{
		{"zcopy", &httpserve.Config{Dir: dir}},
		{"zcopy-lease", &httpserve.Config{Dir: dir, Lease: true}},
		{"zcopy-no-cork", &httpserve.Config{Dir: dir, NoCork: true}},
		{"http.FileServer", nil},
	}
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			for _, c := range configs {
				b.Run(c.name, func(b *testing.B) {
					addr := benchServer(b, dir, c.cfg)
					b.SetBytes(s.size)
					b.ReportAllocs()
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) {
						conn, err := net.Dial("tcp", addr)
						if err != nil {
							b.Error(err)
							return
						}
						defer conn.Close()
						br := bufio.NewReaderSize(conn, 64<<10)
						req := []byte("GET /" + s.name + " HTTP/1.1\r\nHost: x\r\n\r\n")
						for pb.Next() {
							if _, err := conn.Write(req); err != nil {
								b.Error(err)
								return
							}
							resp, err := http.ReadResponse(br, nil)
							if err != nil {
								b.Error(err)
								return
							}
							n, err := io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if err != nil || n != s.size {
								b.Errorf("%d bytes, %v", n, err)
								return
							}
						}
					})
				})
			}
		})
	}
}

// benchServer serves dir with cfg (nil: http.FileServer) on 127.0.0.1:0.
func benchServer(b *testing.B, dir string, cfg *httpserve.Config) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if cfg == nil {
		srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
		go srv.Serve(ln)
		b.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	}
	s, err := httpserve.New(*cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
		s.Close()
	})
	return ln.Addr().String()
}
