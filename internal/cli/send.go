package cli

import (
	"fmt"
	"net"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/zerocopy"
)

func init() {
	register(&command{
		name:     "send",
		order:    20,
		synopsis: "send --raw [--method M] (--listen ADDR | --to ADDR) FILE",
		summary:  "send a file over TCP (the seed's sender)",
		help: `Send sends FILE over one TCP connection. With --listen it waits for one
receiver on ADDR (host:port; port 0 picks one, printed on stderr), sends,
closes and exits; with --to it connects to a receiver at ADDR.

--raw sends the file's bytes and nothing else, so any TCP tool can receive:
  zcopy send --raw --listen 127.0.0.1:1033 data.bin   and   nc 127.0.0.1 1033 > out
If the send fails (the file was truncated, the peer went away) the connection
is reset rather than closed, so the receiver cannot mistake it for the end of
the file. The exit status is 0 on success, 1 on failure, 2 on bad usage.

Methods: auto (the best the platform has: sendfile, falling back to readwrite
when the kernel refuses it), readwrite, mmap, sendfile, splice. On Linux a
read lease on FILE (unless --no-lease) lets a process that truncates or
writes the file stop the send at once instead of being held up to 45 s.`,
		run: runSend,
	})
}

func runSend(e *env, args []string) int {
	c := commands["send"]
	fs := newFlagSet(c.name)
	raw := fs.Bool("raw", false, "send the file's bytes only, with no framing (nc-compatible)")
	method := fs.String("method", "auto", "transfer `method`: auto, readwrite, mmap, sendfile, splice")
	listen := fs.String("listen", "", "listen on `ADDR` and send to the first receiver that connects")
	to := fs.String("to", "", "connect to a receiver at `ADDR`")
	asJSON := fs.Bool("json", false, "print one JSON object with the transfer's figures on stdout")
	quiet := fs.Bool("q", false, "print nothing but errors")
	noLease := fs.Bool("no-lease", false, "do not take a read lease on the file (Linux)")
	var chunk, buffer bytesize.Value
	fs.Var(&chunk, "chunk", "most bytes (`SIZE`) per sendfile or splice call and per mmap window (default 4MiB)")
	fs.Var(&buffer, "buffer", "readwrite buffer `SIZE` (default 256KiB)")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	m, err := zerocopy.ParseMethod(*method)
	if err != nil {
		return usageError(e, c, "%v", err)
	}
	switch {
	case !*raw:
		return usageError(e, c, "only --raw mode exists so far (zcopy's framed protocol is issue 3)")
	case len(pos) != 1:
		return usageError(e, c, "want one FILE, got %d arguments", len(pos))
	case (*listen == "") == (*to == ""):
		return usageError(e, c, "give exactly one of --listen ADDR and --to ADDR")
	case !zerocopy.Supported(m, true):
		return usageError(e, c, "method %v is not available on this system (have %v)", m, zerocopy.SendMethods())
	}
	conn, err := rawxfer.Connect(e.ctx, rawxfer.Endpoint{
		Listen:   *listen,
		Dial:     *to,
		OnListen: func(a net.Addr) { fmt.Fprintf(e.stderr, "zcopy send: listening on %s\n", a) },
	})
	if err != nil {
		return fail(e, c, err)
	}
	st, err := rawxfer.Send(e.ctx, conn, pos[0], zerocopy.SendOptions{
		Method:     m,
		ChunkSize:  int64(chunk),
		BufferSize: int(buffer),
		NoLease:    *noLease,
	})
	report(e, "sent", st, err, *asJSON, *quiet)
	if err != nil {
		return fail(e, c, err)
	}
	return exitOK
}
