package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/internal/server"
	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/internal/tree"
)

// framedSend wires zcopy send (framed) to the tree walker and the session.
func framedSend(e *env, c *command, paths []string, listen, to string, keep bool, streams int, o session.Options, asJSON, quiet bool) int {
	warn := func(s string) { fmt.Fprintf(e.stderr, "zcopy send: %s\n", s) }
	o.Warn = warn
	// Walk once now, so a bad path fails before any connection; a server
	// under --keep walks again for each later receiver, to send the tree
	// as it is then.
	first, err := tree.Walk(paths, warn)
	if err != nil {
		return fail(e, c, err)
	}
	var mu sync.Mutex
	walk := func() ([]tree.Item, error) {
		mu.Lock()
		items := first
		first = nil
		mu.Unlock()
		if items != nil {
			return items, nil
		}
		return tree.Walk(paths, warn)
	}
	if to != "" {
		items, _ := walk()
		res, err := withProgress(e, "send", quiet || asJSON, o, func(o session.Options) (session.Result, error) {
			return session.SendStreams(e.ctx, dialer(to), items, streams, o)
		})
		return finish(e, c, "sent", res, err, asJSON, quiet)
	}
	// Serving receivers that fetch: a receiver that opens several streams
	// gets one share of one walk on each.
	o.OneConnection = !keep
	var shares session.Shares
	run := func(ctx context.Context, conn net.Conn) (session.Result, error) {
		defer conn.Close()
		return withProgress(e, "send", quiet || asJSON || keep, o, func(o session.Options) (session.Result, error) {
			return session.Send(ctx, conn, shares.Source(conn, walk), o)
		})
	}
	return serveFramed(e, c, listen, keep, "sent", run, asJSON, quiet)
}

// framedRecv wires zcopy recv (framed) to the session, confined to dir.
func framedRecv(e *env, c *command, dir, listen, from string, keep bool, streams int, o session.Options, asJSON, quiet bool) int {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(e, c, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fail(e, c, err)
	}
	defer root.Close()
	o.Groups = &session.Groups{}
	defer o.Groups.Close() // frees the names of groups that never completed
	if from != "" {
		o.Warn = func(s string) { fmt.Fprintf(e.stderr, "zcopy recv: %s\n", s) }
		res, err := withProgress(e, "recv", quiet || asJSON, o, func(o session.Options) (session.Result, error) {
			return session.ReceiveStreams(e.ctx, dialer(from), root, streams, o)
		})
		return finish(e, c, "received", res, err, asJSON, quiet)
	}
	o.OneConnection = !keep
	run := func(ctx context.Context, conn net.Conn) (session.Result, error) {
		defer conn.Close()
		peer := conn.RemoteAddr().String()
		oc := o
		oc.Warn = func(s string) { fmt.Fprintf(e.stderr, "zcopy recv: %s: %s\n", peer, s) }
		return withProgress(e, "recv", quiet || asJSON || keep, oc, func(o session.Options) (session.Result, error) {
			return session.Receive(ctx, conn, root, o)
		})
	}
	return serveFramed(e, c, listen, keep, "received", run, asJSON, quiet)
}

// withProgress runs a session with o.Progress on a progress bar for verb
// (none if off).
func withProgress(e *env, verb string, off bool, o session.Options, run func(session.Options) (session.Result, error)) (session.Result, error) {
	p := newProgress(e, verb, off)
	o.Progress = p.update
	res, err := run(o)
	p.done()
	return res, err
}

// dialer opens connections to addr for the streams of a transfer.
func dialer(addr string) session.Dial {
	return func(ctx context.Context) (net.Conn, error) {
		return rawxfer.Connect(ctx, rawxfer.Endpoint{Dial: addr})
	}
}

// serveFramed listens on addr and runs one session per connection: the
// first only, or with keep every one until the context ends. With keep,
// each session's outcome is logged and the exit status is 0 after a clean
// shutdown; without, it is the session's.
func serveFramed(e *env, c *command, addr string, keep bool, verb string, run func(context.Context, net.Conn) (session.Result, error), asJSON, quiet bool) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(e, c, err)
	}
	fmt.Fprintf(e.stderr, "zcopy %s: listening on %s\n", c.name, ln.Addr())
	var mu sync.Mutex
	code := exitOK
	// Under --keep a signal stops the accepting, not the sessions in
	// flight: they run to their end (or their own timeouts).
	sessionCtx := e.ctx
	if keep {
		sessionCtx = context.WithoutCancel(e.ctx)
	}
	handle := func(conn net.Conn) {
		peer := conn.RemoteAddr().String()
		res, err := run(sessionCtx, conn)
		mu.Lock()
		defer mu.Unlock()
		if !keep {
			code = finish(e, c, verb, res, err, asJSON, quiet)
			return
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "zcopy %s: %s: %v\n", c.name, peer, err)
		} else if !quiet {
			fmt.Fprintf(e.stderr, "zcopy %s: %s: %s\n", c.name, peer, describe(verb, res))
		}
		if asJSON {
			printJSON(e, res)
		}
	}
	logErr := func(err error) { fmt.Fprintf(e.stderr, "zcopy %s: accept: %v (retrying)\n", c.name, err) }
	if err := server.Serve(e.ctx, ln, !keep, handle, logErr); err != nil {
		return fail(e, c, err)
	}
	if keep {
		fmt.Fprintf(e.stderr, "zcopy %s: stopped; transfers in flight finished\n", c.name)
	}
	return code
}

// finish reports a session's outcome and returns the exit status: 0, 23
// (exitPartial) when the session ran to its end with entries that did not
// arrive, which it names again, or 1.
func finish(e *env, c *command, verb string, res session.Result, err error, asJSON, quiet bool) int {
	if asJSON {
		printJSON(e, res)
	} else if !quiet && (err == nil || errors.Is(err, session.ErrFailed)) {
		fmt.Fprintf(e.stderr, "zcopy %s: %s\n", c.name, describe(verb, res))
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, session.ErrFailed):
		const most = 20
		fmt.Fprintf(e.stderr, "zcopy %s: partial transfer (exit status %d): %d did not arrive:\n", c.name, exitPartial, len(res.Failed))
		for i, f := range res.Failed {
			if i == most {
				fmt.Fprintf(e.stderr, "  ... and %d more (each was named above)\n", len(res.Failed)-most)
				break
			}
			fmt.Fprintf(e.stderr, "  %s\n", f)
		}
		return exitPartial
	}
	return fail(e, c, err)
}

func describe(verb string, r session.Result) string {
	s := fmt.Sprintf("%s %d files (%s), %s on the wire, in %.2f s", verb, r.Files, bytesize.Format(r.Bytes), bytesize.Format(r.BytesSent), r.Seconds)
	if r.Seconds > 0 {
		s += fmt.Sprintf(" (%.2f GB/s)", float64(r.BytesSent)/r.Seconds/1e9)
	}
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d already there", r.Skipped)
	}
	if len(r.Failed) > 0 {
		s += fmt.Sprintf(", %d failed", len(r.Failed))
	}
	if r.Verified {
		s += ", verified"
	}
	return s
}

func printJSON(e *env, r session.Result) {
	b, _ := json.Marshal(struct {
		session.Result
		PeakRSSKiB int64 `json:"peak_rss_kib,omitempty"` // Linux: VmHWM of this process
	}{r, peakRSS()})
	fmt.Fprintf(e.stdout, "%s\n", b)
}
