package cli

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/zerocopy"
)

func init() {
	register(&command{
		name:     "recv",
		order:    30,
		synopsis: "recv --raw [--method M] (--listen ADDR | --from ADDR) -o FILE",
		summary:  "receive a file over TCP (the seed's receiver)",
		help: `Recv receives one file over one TCP connection. With --listen it waits for
one sender on ADDR (port 0 picks one, printed on stderr); with --from it
connects to a sender at ADDR.

--raw stores every byte that arrives until the sender closes, so any TCP
tool can send:   nc 127.0.0.1 1033 < data.bin
-o FILE is written as FILE.zcopy-part and renamed to FILE only when the
stream ended cleanly; after an error (such as a reset from a sender whose
file was truncated) nothing is left under FILE and the exit status is 1.
-o - writes to stdout; -o /dev/null (or any device or FIFO) is written
directly, which is what throughput measurements use.

Methods: auto (splice on Linux: socket -> pipe -> file, falling back to
readwrite where the output refuses splice), readwrite, splice.`,
		run: runRecv,
	})
}

func runRecv(e *env, args []string) int {
	c := commands["recv"]
	fs := newFlagSet(c.name)
	raw := fs.Bool("raw", false, "store the stream's bytes as they are (nc-compatible)")
	method := fs.String("method", "auto", "receive `method`: auto, readwrite, splice")
	listen := fs.String("listen", "", "listen on `ADDR` and receive from the first sender that connects")
	from := fs.String("from", "", "connect to a sender at `ADDR`")
	out := fs.String("o", "", "write to `FILE` (- for stdout)")
	asJSON := fs.Bool("json", false, "print one JSON object with the transfer's figures on stdout")
	quiet := fs.Bool("q", false, "print nothing but errors")
	var chunk, buffer bytesize.Value
	fs.Var(&chunk, "chunk", "most bytes (`SIZE`) per splice call (default 4MiB, limited by the pipe)")
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
	case len(pos) != 0:
		return usageError(e, c, "unexpected arguments %q", pos)
	case *out == "":
		return usageError(e, c, "-o FILE is required in raw mode")
	case (*listen == "") == (*from == ""):
		return usageError(e, c, "give exactly one of --listen ADDR and --from ADDR")
	case !zerocopy.Supported(m, false):
		return usageError(e, c, "method %v cannot receive on this system (have %v)", m, zerocopy.ReceiveMethods())
	case *out == "-" && *asJSON:
		return usageError(e, c, "-o - and --json both want stdout")
	}
	stdout, _ := e.stdout.(*os.File)
	if *out == "-" && stdout == nil {
		return fail(e, c, errors.New("-o - needs stdout to be a file descriptor"))
	}
	conn, err := rawxfer.Connect(e.ctx, rawxfer.Endpoint{
		Listen:   *listen,
		Dial:     *from,
		OnListen: func(a net.Addr) { fmt.Fprintf(e.stderr, "zcopy recv: listening on %s\n", a) },
	})
	if err != nil {
		return fail(e, c, err)
	}
	st, err := rawxfer.Receive(e.ctx, conn, *out, stdout, zerocopy.ReceiveOptions{
		Method:     m,
		ChunkSize:  int64(chunk),
		BufferSize: int(buffer),
	})
	report(e, "received", st, err, *asJSON, *quiet)
	if err != nil {
		return fail(e, c, err)
	}
	return exitOK
}
