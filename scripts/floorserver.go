//go:build ignore

// floorserver answers GET /NAME for the regular files directly in DIR with
// fasthttp and nothing else (no ranges, no preconditions, no listings), in
// one of three modes, to measure what a Go server on fasthttp costs per
// request before any of zcopy http's own work (scripts/http-floor.sh):
//
//	memory      the body is a copy read at start: no system call but the
//	            request's read and the response's write (a cache that never
//	            looks at the disk again)
//	stat        one fstatat(dirfd, NAME, AT_SYMLINK_NOFOLLOW) per request,
//	            the body from the copy read at start (a cache revalidated by
//	            name on every hit, with bodies in memory)
//	stat-pread  that fstatat, then a pread of the body from a descriptor
//	            kept open (what issue 17 asks of zcopy http: revalidated on
//	            every hit, the body always read from the descriptor)
//
// The stat result is not acted upon (the files do not change during a
// measurement); its cost is what is measured.
//
//	go run scripts/floorserver.go MODE ADDR DIR
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"
)

// file is one served file: its open descriptor and the copy of its bytes.
type file struct {
	fd   int
	body []byte
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/floorserver.go memory|stat|stat-pread ADDR DIR")
		os.Exit(2)
	}
	mode, addr, dir := os.Args[1], os.Args[2], os.Args[3]
	switch mode {
	case "memory", "stat", "stat-pread":
	default:
		fmt.Fprintf(os.Stderr, "floorserver: unknown mode %q\n", mode)
		os.Exit(2)
	}
	dirfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(err)
	}
	files := map[string]*file{}
	var keep []*os.File // the descriptors' owners, kept from finalizers
	names, err := os.ReadDir(dir)
	if err != nil {
		fail(err)
	}
	for _, e := range names {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() > 64<<20 {
			continue // big files are not what this measures
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			fail(err)
		}
		body, err := os.ReadFile(f.Name())
		if err != nil {
			fail(err)
		}
		// Fd puts f in blocking mode, which a regular file is anyway;
		// f stays referenced by nothing, so it must not be collected.
		files["/"+e.Name()] = &file{fd: int(f.Fd()), body: body}
		keep = append(keep, f)
	}
	bufs := sync.Pool{New: func() any { return new([]byte) }}
	handler := func(ctx *fasthttp.RequestCtx) {
		f := files[string(ctx.Path())]
		if f == nil {
			ctx.Error("not found", fasthttp.StatusNotFound)
			return
		}
		ctx.Response.Header.SetContentType("application/octet-stream")
		if mode == "memory" {
			ctx.Response.SetBodyRaw(f.body)
			return
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, string(ctx.Path()[1:]), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusInternalServerError)
			return
		}
		if mode == "stat" {
			ctx.Response.SetBodyRaw(f.body)
			return
		}
		bp := bufs.Get().(*[]byte)
		if cap(*bp) < len(f.body) {
			*bp = make([]byte, len(f.body))
		}
		b := (*bp)[:len(f.body)]
		n, err := unix.Pread(f.fd, b, 0)
		if err != nil || n != len(b) {
			bufs.Put(bp)
			ctx.Error("short read", fasthttp.StatusInternalServerError)
			return
		}
		ctx.Response.SetBody(b) // copies: b goes back to the pool
		bufs.Put(bp)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "floorserver %s: serving %s on http://%s/\n", mode, dir, ln.Addr())
	s := &fasthttp.Server{Handler: handler, NoDefaultServerHeader: true}
	err = s.Serve(ln)
	runtime.KeepAlive(keep)
	fail(err)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floorserver:", err)
	os.Exit(1)
}
