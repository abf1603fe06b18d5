package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
		parts := session.Partition(items, streams)
		p := newProgress(e, "send", quiet || asJSON)
		res, err := runStreams(streams, p, o, func(o session.Options, i int) (session.Result, error) {
			conn, err := rawxfer.Connect(e.ctx, rawxfer.Endpoint{Dial: to})
			if err != nil {
				return session.Result{}, err
			}
			defer conn.Close()
			return session.Send(e.ctx, conn, session.Items(parts[i]), o)
		})
		p.done()
		return finish(e, c, "sent", res, err, asJSON, quiet)
	}
	// Serving receivers that fetch: a receiver that opens several streams
	// gets one share of one walk on each.
	o.OneConnection = !keep
	var pulls pullGroups
	run := func(ctx context.Context, conn net.Conn) (session.Result, error) {
		defer conn.Close()
		p := newProgress(e, "send", quiet || asJSON || keep)
		oc := o
		oc.Progress = p.update
		src := func(peer session.Stream) ([]tree.Item, error) {
			if peer.Count > 1 {
				host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
				return pulls.share(host, peer, walk)
			}
			return walk()
		}
		res, err := session.Send(ctx, conn, src, oc)
		p.done()
		return res, err
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
		p := newProgress(e, "recv", quiet || asJSON)
		res, err := runStreams(streams, p, o, func(o session.Options, i int) (session.Result, error) {
			conn, err := rawxfer.Connect(e.ctx, rawxfer.Endpoint{Dial: from})
			if err != nil {
				return session.Result{}, err
			}
			defer conn.Close()
			return session.Receive(e.ctx, conn, root, o)
		})
		p.done()
		return finish(e, c, "received", res, err, asJSON, quiet)
	}
	o.OneConnection = !keep
	run := func(ctx context.Context, conn net.Conn) (session.Result, error) {
		defer conn.Close()
		peer := conn.RemoteAddr().String()
		oc := o
		oc.Warn = func(s string) { fmt.Fprintf(e.stderr, "zcopy recv: %s: %s\n", peer, s) }
		p := newProgress(e, "recv", quiet || asJSON || keep)
		oc.Progress = p.update
		res, err := session.Receive(ctx, conn, root, oc)
		p.done()
		return res, err
	}
	return serveFramed(e, c, listen, keep, "received", run, asJSON, quiet)
}

// runStreams runs one session per stream, concurrently, with o placed as
// stream i of n (in a fresh random group) when n > 1, and merges their
// results. The error returned is the first of the most telling kind
// (see rank).
func runStreams(n int, p *progress, o session.Options, one func(o session.Options, i int) (session.Result, error)) (session.Result, error) {
	var group uint32
	for n > 1 && group == 0 {
		group = rand.Uint32()
	}
	results := make([]session.Result, n)
	errs := make([]error, n)
	var mu sync.Mutex
	done, total := make([]int64, n), make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		oi := o
		if n > 1 {
			oi.Stream = session.Stream{Group: group, Index: i, Count: n}
		}
		oi.Progress = func(d, t int64) {
			mu.Lock()
			done[i], total[i] = d, t
			var sd, st int64
			for k := range n {
				sd += done[k]
				st += total[k]
			}
			mu.Unlock()
			p.update(sd, st)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = one(oi, i)
		}()
	}
	wg.Wait()
	// The error that says most: a refusal that says what to change, then
	// any failure of a stream, then "some files failed".
	rank := func(e error) int {
		switch {
		case e == nil:
			return 0
		case errors.Is(e, session.ErrFailed):
			return 1
		case errors.Is(e, session.ErrRefused), errors.Is(e, session.ErrAuth):
			return 3
		}
		return 2
	}
	var err error
	for _, e := range errs {
		if rank(e) > rank(err) {
			err = e
		}
	}
	if n == 1 {
		return results[0], err
	}
	return session.Merge(results), err
}

// pullGroups hands each stream of a fetching receiver its share of one walk.
type pullGroups struct {
	mu sync.Mutex
	m  map[pullKey]*pullGroup
}

type pullKey struct {
	host  string
	group uint32
}

type pullGroup struct {
	parts  [][]tree.Item
	served int
}

// share returns stream peer's share of the tree, walking it for the first
// stream of the group to arrive.
func (g *pullGroups) share(host string, peer session.Stream, walk func() ([]tree.Item, error)) ([]tree.Item, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[pullKey]*pullGroup{}
	}
	k := pullKey{host, peer.Group}
	pg := g.m[k]
	if pg == nil {
		items, err := walk()
		if err != nil {
			return nil, err
		}
		pg = &pullGroup{parts: session.Partition(items, peer.Count)}
		g.m[k] = pg
	}
	if peer.Index >= len(pg.parts) {
		return nil, fmt.Errorf("stream %d of a group of %d streams", peer.Index, len(pg.parts))
	}
	if pg.served++; pg.served == len(pg.parts) {
		delete(g.m, k)
	}
	return pg.parts[peer.Index], nil
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
