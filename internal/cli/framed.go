package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/internal/server"
	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/internal/tree"
)

// serveFlags are how a framed server (send or recv with --listen) serves:
// once, or with --keep until a signal, within --max-sessions, draining for
// at most --grace when it stops.
type serveFlags struct {
	keep        bool
	maxSessions int
	grace       time.Duration
	// timeout, without --keep, bounds the wait for a peer that
	// completes the handshake (0: until a signal).
	timeout time.Duration
	// announce, if set, says more once the server listens on its address
	// (the token it made, and the other end's command).
	announce func(net.Addr)
	// machine is set for a far end started over ssh (--announce): its
	// announcement replaces the "listening on" line.
	machine bool
}

// addServeFlags defines --max-sessions, --grace and --timeout on fs.
func addServeFlags(fs *flag.FlagSet) *serveFlags {
	f := &serveFlags{}
	fs.DurationVar(&f.timeout, "timeout", 0, "with --listen, without --keep: give up (exit status 1) when no peer has completed the handshake within `DURATION` (strays do not count); 0 waits until a signal")
	fs.IntVar(&f.maxSessions, "max-sessions", server.DefaultMaxSessions, "with --keep: serve at most `N` transfers at once; a peer beyond them is refused, with a message that says so")
	fs.DurationVar(&f.grace, "grace", server.DefaultGrace, "with --keep: after SIGINT or SIGTERM, how long transfers in flight may go on before they are cut (the exit status is then 1)")
	return f
}

// withKeep returns f for a command line whose --keep is keep.
func (f *serveFlags) withKeep(keep bool) serveFlags {
	g := *f
	g.keep = keep
	return g
}

// check says what is wrong with f on fs, whose --keep is keep, or "".
func (f *serveFlags) check(fs *flag.FlagSet, keep bool) string {
	switch {
	case f.maxSessions < 1:
		return fmt.Sprintf("--max-sessions wants at least 1, not %d", f.maxSessions)
	case f.grace < 0:
		return fmt.Sprintf("--grace wants a duration of 0 or more, not %v", f.grace)
	case !keep && (isSet(fs, "max-sessions") || isSet(fs, "grace")):
		return "--max-sessions and --grace go with --keep"
	case f.timeout < 0:
		return fmt.Sprintf("--timeout wants a duration of 0 or more, not %v", f.timeout)
	case keep && isSet(fs, "timeout"):
		return "--timeout goes with a one-shot --listen (without --keep, which serves until a signal)"
	}
	return ""
}

// memoryFlags bound what a receiver holds of the manifests it reads.
type memoryFlags struct{ manifest, total bytesize.Value }

// addMemoryFlags defines --manifest-memory and --total-manifest-memory on
// fs.
func addMemoryFlags(fs *flag.FlagSet) *memoryFlags {
	f := &memoryFlags{}
	fs.Var(&f.manifest, "manifest-memory", fmt.Sprintf("the most memory (`SIZE`) one transfer's manifest may hold here (default %s: 10 million files whose paths average up to ~150 bytes); a larger one is refused, saying so at both ends", bytesize.Format(session.DefaultManifestMemory)))
	fs.Var(&f.total, "total-manifest-memory", fmt.Sprintf("with --keep: the most memory (`SIZE`) the manifests of all transfers in flight may hold together (default %s)", bytesize.Format(session.DefaultTotalManifestMemory)))
	return f
}

// check says what is wrong with f on fs, or "".
func (f *memoryFlags) check(fs *flag.FlagSet, raw bool) string {
	if raw && (isSet(fs, "manifest-memory") || isSet(fs, "total-manifest-memory")) {
		return "--manifest-memory and --total-manifest-memory go with the framed protocol (--raw has no manifest)"
	}
	return ""
}

// memory is the budget f sets.
func (f *memoryFlags) memory() *session.Memory {
	return &session.Memory{Session: int64(f.manifest), Total: int64(f.total)}
}

// isSet reports whether the flag name was given on fs's command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// sendFlags are the sender's choices of what to send.
type sendFlags struct {
	exclude *tree.Exclude // --exclude
	dryRun  bool          // -n, --dry-run
	hard    bool          // -H, --hard-links
}

// walk lists paths as sf says.
func (sf sendFlags) walk(paths []string, warn func(string)) ([]tree.Item, error) {
	items, err := tree.WalkExcluding(paths, sf.exclude, warn)
	if err == nil && sf.hard {
		items = tree.HardLinks(items)
	}
	return items, err
}

// dryLine words the receiver's plan p for the entry en, for --dry-run.
func dryLine(en proto.Entry, p proto.Plan) string {
	name := en.Path
	if en.Kind == proto.KindDir {
		name += "/"
	}
	switch p.Action {
	case proto.ActionSend:
		return fmt.Sprintf("send    %s (%s)", name, bytesize.Format(en.Size))
	case proto.ActionSkip:
		return fmt.Sprintf("skip    %s (already there: same size and mtime)", name)
	case proto.ActionRefuse:
		return fmt.Sprintf("refuse  %s: %s", name, p.Message)
	case proto.ActionFail:
		if en.Kind == proto.KindOmitted {
			name = strconv.Quote(en.Path)
		}
		return fmt.Sprintf("fail    %s: %s", name, p.Message)
	}
	if en.Kind == proto.KindSymlink {
		return fmt.Sprintf("link    %s -> %s", name, en.Target)
	}
	return fmt.Sprintf("dir     %s", name)
}

// patterns is a flag that may be given more than once (--exclude).
type patterns []string

func (p *patterns) String() string     { return strings.Join(*p, " ") }
func (p *patterns) Set(s string) error { *p = append(*p, s); return nil }

// A connector gives the dialing end of a framed transfer its connections,
// once the command line has been checked and (for a sender) the paths
// walked. It may first start something, such as the far end over ssh,
// and set o's token from what it learns.
type connector func(o *session.Options) (session.Dial, error)

// addrConnector dials addr (--to, --from).
func addrConnector(addr string) connector {
	return func(*session.Options) (session.Dial, error) { return dialer(addr), nil }
}

// framedSend wires zcopy send (framed) to the tree walker and the session:
// it listens on listen, or if that is "" dials through to.
func framedSend(e *env, c *command, paths []string, listen string, to connector, srv serveFlags, streams int, o session.Options, sf sendFlags, asJSON, quiet bool) int {
	warn := func(s string) { fmt.Fprintf(e.stderr, "zcopy send: %s\n", s) }
	o.Warn = warn
	if sf.dryRun {
		// One stream: ranges are how bodies move, and none moves.
		o.DryRun, streams = true, 1
		if !asJSON && !quiet {
			var names []string // by index, for hard links
			o.OnPlan = func(en proto.Entry, p proto.Plan) {
				names = append(names, en.Path)
				line := dryLine(en, p)
				if en.Kind == proto.KindHardlink && p.Action == proto.ActionDone && int(en.Link) < len(names) {
					line = fmt.Sprintf("hardlink %s => %s", en.Path, names[en.Link])
				}
				fmt.Fprintln(e.stdout, line)
			}
		}
	}
	// Walk once now, so a bad path fails before any connection; a server
	// under --keep walks again for each later receiver, to send the tree
	// as it is then.
	first, err := sf.walk(paths, warn)
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
		return sf.walk(paths, warn)
	}
	if listen == "" {
		items, _ := walk()
		dial, err := to(&o)
		if err != nil {
			return fail(e, c, err)
		}
		res, err := withProgress(e, "send", quiet || asJSON, o, func(o session.Options) (session.Result, error) {
			return session.SendStreams(e.ctx, dial, items, streams, o)
		})
		return finish(e, c, "sent", res, err, asJSON, quiet)
	}
	// Serving receivers that fetch: a receiver that opens several streams
	// gets one share of one walk on each.
	o.OneConnection = !srv.keep
	var shares session.Shares
	run := func(ctx context.Context, conn net.Conn, admitted func()) (session.Result, error) {
		defer conn.Close()
		src := shares.Source(conn, walk)
		// Send asks for the items once the handshake is done.
		shaken := func(peer session.Stream) ([]tree.Item, error) {
			admitted()
			return src(peer)
		}
		return withProgress(e, "send", quiet || asJSON || srv.keep, o, func(o session.Options) (session.Result, error) {
			return session.Send(ctx, conn, shaken, o)
		})
	}
	return serveFramed(e, c, framedServer{addr: listen, serveFlags: srv, verb: "sent", role: proto.RoleSender, o: o, run: run}, asJSON, quiet)
}

// framedRecv wires zcopy recv (framed) to the session, confined to dir;
// its sessions hold their manifests within mem. It listens on listen, or
// if that is "" dials through from.
func framedRecv(e *env, c *command, dir, listen string, from connector, srv serveFlags, mem *session.Memory, streams int, o session.Options, asJSON, quiet bool) int {
	e = &env{ctx: session.WithMemory(e.ctx, mem), stdout: e.stdout, stderr: e.stderr}
	// The Go runtime is told what mem allows in all, so that near it the
	// garbage collector works harder instead of letting the heap double;
	// a limit the user set in $GOMEMLIMIT stands.
	if os.Getenv("GOMEMLIMIT") == "" {
		sessions := streams
		if listen != "" {
			sessions = 1
			if srv.keep {
				sessions = srv.maxSessions
			}
		}
		debug.SetMemoryLimit(mem.ProcessLimit(sessions))
	}
	// Before any socket: a --dir that cannot be written fails now, not
	// when the peer arrives (issue 18). A dry run writes nothing, --dir
	// included: one that does not exist is planned as empty (nil root).
	root, err := openDir(dir, o.DryRun)
	if err != nil {
		return fail(e, c, err)
	}
	if root != nil {
		defer root.Close()
	}
	o.Groups = &session.Groups{}
	defer o.Groups.Close() // frees the names of groups that never completed
	if listen == "" {
		o.Warn = func(s string) { fmt.Fprintf(e.stderr, "zcopy recv: %s\n", s) }
		dial, err := from(&o)
		if err != nil {
			return fail(e, c, err)
		}
		res, err := withProgress(e, "recv", quiet || asJSON, o, func(o session.Options) (session.Result, error) {
			return keptIn(dir)(session.ReceiveStreams(e.ctx, dial, root, streams, o))
		})
		return finish(e, c, "received", res, err, asJSON, quiet)
	}
	o.OneConnection = !srv.keep
	run := func(ctx context.Context, conn net.Conn, admitted func()) (session.Result, error) {
		defer conn.Close()
		peer := conn.RemoteAddr().String()
		oc := o
		oc.Warn = func(s string) { fmt.Fprintf(e.stderr, "zcopy recv: %s: %s\n", peer, s) }
		ctx = session.WithHandshakeDone(ctx, admitted)
		return withProgress(e, "recv", quiet || asJSON || srv.keep, oc, func(o session.Options) (session.Result, error) {
			return keptIn(dir)(session.Receive(ctx, conn, root, o))
		})
	}
	return serveFramed(e, c, framedServer{addr: listen, serveFlags: srv, verb: "received", role: proto.RoleReceiver, o: o, run: run}, asJSON, quiet)
}

// keptIn returns a function that passes on a receiver's result and error,
// with the part it kept named under dir (where the user finds it).
func keptIn(dir string) func(session.Result, error) (session.Result, error) {
	return func(r session.Result, err error) (session.Result, error) {
		if r.Kept != nil {
			k := *r.Kept
			k.Path = filepath.Join(dir, k.Path)
			r.Kept = &k
		}
		return r, err
	}
}

// openDir opens the receiver's --dir, making it if need be and checking
// that it can be written; for a dry run (which writes nothing), it only
// opens it, and one that does not exist is nil.
func openDir(dir string, dry bool) (*os.Root, error) {
	if dry {
		root, err := os.OpenRoot(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("--dir %s: cannot open it: %w", dir, bare(err))
		}
		return root, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--dir %s: cannot create it: %w", dir, bare(err))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("--dir %s: cannot open it: %w", dir, bare(err))
	}
	if err := writable(root); err != nil {
		root.Close()
		return nil, fmt.Errorf("--dir %s: cannot write there: %w", dir, bare(err))
	}
	return root, nil
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

// framedServer is one framed server: what it serves, as which end, and
// how.
type framedServer struct {
	addr string
	serveFlags
	verb string          // for the log: "sent" or "received"
	role proto.Role      // this end's
	o    session.Options // the sessions', for refusals
	// run serves one connection; it calls admitted once the handshake is
	// done.
	run func(ctx context.Context, conn net.Conn, admitted func()) (session.Result, error)
}

// serveFramed listens on s.addr and runs one session per connection: the
// first only, or with --keep every one until the context ends, at most
// s.maxSessions at once (a peer beyond them is refused, saying so). With
// --keep each session's outcome is logged, and after a signal the
// sessions in flight have s.grace to finish: the exit status is 0 if they
// did, 1 if some were cut. Without, it is the session's.
func serveFramed(e *env, c *command, s framedServer, asJSON, quiet bool) int {
	// With --keep a second signal cuts the transfers in flight at once;
	// watched from before the listener exists, so no signal is missed.
	now := make(chan struct{})
	var cutNow atomic.Bool
	if s.keep {
		defer watchSecond(e, c, func() { cutNow.Store(true); close(now) })()
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fail(e, c, err)
	}
	if !s.machine {
		fmt.Fprintf(e.stderr, "zcopy %s: listening on %s\n", c.name, ln.Addr())
	}
	if s.announce != nil {
		s.announce(ln.Addr())
	}
	var mu sync.Mutex
	code := exitOK
	served := false // one-shot: a peer got past its handshake
	cutWhy := func() string {
		if cutNow.Load() {
			return "a second signal"
		}
		return fmt.Sprintf("the grace period (--grace %v) ran out", s.grace)
	}
	handle := func(ctx context.Context, conn net.Conn, admitted func()) {
		peer := conn.RemoteAddr().String()
		var shook atomic.Bool
		res, err := s.run(ctx, conn, func() { shook.Store(true); admitted() })
		mu.Lock()
		defer mu.Unlock()
		if !s.keep && !shook.Load() && err != nil && e.ctx.Err() == nil {
			// A stray (server.Config.Once): said, and the listener
			// waits for the next peer.
			fmt.Fprintf(e.stderr, "zcopy %s: %s: %v; still waiting for a peer\n", c.name, peer, plain(err))
			return
		}
		if !s.keep {
			served = true
			code = finish(e, c, s.verb, res, err, asJSON, quiet)
			return
		}
		switch {
		case err != nil && ctx.Err() != nil && e.ctx.Err() != nil:
			fmt.Fprintf(e.stderr, "zcopy %s: %s: cut short after the signal: %s%s\n", c.name, peer, cutWhy(), keptNote(res))
		case err != nil && !errors.Is(err, session.ErrFailed):
			fmt.Fprintf(e.stderr, "zcopy %s: %s: %s\n", c.name, peer, withKept(err, res))
		case !quiet:
			// One line per transfer, as it ends.
			fmt.Fprintf(e.stderr, "zcopy %s: %s: %s\n", c.name, peer, describe(s.verb, res))
		}
		if asJSON {
			printJSON(e, res, err)
		}
	}
	refuse := func(ctx context.Context, conn net.Conn) {
		why := fmt.Sprintf("it already serves as many transfers as it takes at once (--max-sessions %d there): try again later, or raise that", s.maxSessions)
		msg := fmt.Sprintf("zcopy %s: %s: refused: already serving as many transfers as --max-sessions %d allows", c.name, conn.RemoteAddr(), s.maxSessions)
		if err := session.Refuse(ctx, conn, s.role, s.o, why); err != nil {
			msg += fmt.Sprintf("; the refusal did not reach it: %v", err)
		}
		fmt.Fprintln(e.stderr, msg)
	}
	cfg := server.Config{
		Once:        !s.keep,
		Wait:        s.timeout,
		MaxSessions: s.maxSessions,
		Grace:       s.grace,
		Now:         now,
		Handle:      handle,
		Refuse:      refuse,
		Log:         func(line string) { fmt.Fprintf(e.stderr, "zcopy %s: %s\n", c.name, line) },
	}
	if !quiet {
		cfg.Info = cfg.Log
	}
	st, err := server.Serve(e.ctx, ln, cfg)
	if errors.Is(err, server.ErrNoPeer) {
		fmt.Fprintf(e.stderr, "zcopy %s: no peer completed the handshake within %v (--timeout): nothing was transferred (exit status %d)\n", c.name, s.timeout, exitFail)
		return exitFail
	}
	if err != nil {
		return fail(e, c, err)
	}
	if !s.keep && !served {
		// Stopped (a signal) before any peer completed its handshake:
		// nothing named was moved, so not a success.
		code := exitFail
		if i := interrupted(e); i != nil {
			code = i.ExitCode()
		}
		fmt.Fprintf(e.stderr, "zcopy %s: stopped before a peer completed the handshake: nothing was transferred (exit status %d)\n", c.name, code)
		return code
	}
	if s.keep {
		if st.Cut > 0 {
			fmt.Fprintf(e.stderr, "zcopy %s: stopped; %d in flight cut short when %s (exit status %d)\n", c.name, st.Cut, cutWhy(), exitFail)
			return exitFail
		}
		fmt.Fprintf(e.stderr, "zcopy %s: stopped; transfers in flight finished\n", c.name)
	}
	return code
}

// finish reports a session's outcome and returns the exit status: 0, 23
// (exitPartial) when the session ran to its end with entries that did not
// arrive, which it names again, 128+N when signal N interrupted it (what
// was kept is said), or 1.
func finish(e *env, c *command, verb string, res session.Result, err error, asJSON, quiet bool) int {
	sig := interrupted(e)
	if sig != nil && err != nil && !errors.Is(err, session.ErrFailed) {
		err = sig
	}
	if asJSON {
		printJSON(e, res, err)
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
	case err == sig:
		fmt.Fprintf(e.stderr, "zcopy %s: %v: %s (exit status %d)\n", c.name, sig, interruptedNote(verb, res), sig.ExitCode())
		return sig.ExitCode()
	}
	fmt.Fprintf(e.stderr, "zcopy %s: %s\n", c.name, withKept(err, res))
	return exitFail
}

// withKept words the error of a session whose receiver kept a part: the
// session's short note (session.KeptNote) gives way to what was kept.
func withKept(err error, r session.Result) string {
	msg := plain(err).Error()
	if r.Kept == nil {
		return msg
	}
	return strings.Replace(msg, session.KeptNote, "", 1) + keptNote(r)
}

// interruptedNote says what a transfer interrupted by a signal kept, and
// how to go on.
func interruptedNote(verb string, r session.Result) string {
	switch {
	case r.Kept != nil:
		return fmt.Sprintf("part kept: %s of %s in %s; resume with the same command", bytesize.Format(r.Kept.Bytes), bytesize.Format(r.Kept.Size), r.Kept.Path)
	case verb == "sent":
		return fmt.Sprintf("%s sent; the receiver keeps what arrived (complete files, and a .zcopy-part of the file cut short); resume with the same command", bytesize.Format(r.BytesSent))
	}
	return "the files placed before it are complete; resume with the same command"
}

// keptNote says, after a failure, which part a receiver kept ("" if none).
func keptNote(r session.Result) string {
	if r.Kept == nil {
		return ""
	}
	return fmt.Sprintf(" (part kept: %s of %s in %s; the same command resumes it)", bytesize.Format(r.Kept.Bytes), bytesize.Format(r.Kept.Size), r.Kept.Path)
}

// describe is the one line that says what a transfer did: the files
// moved, left as they were (already there, unchanged), failed; the
// directories and symlinks; the bytes on the wire, the time and the rate
// (in the units of the sizes beside it), and what was taken from parts.
func describe(verb string, r session.Result) string {
	if r.DryRun {
		s := fmt.Sprintf("dry run, nothing sent or written: would send %d of %s", r.ToSend, count(r.Files, "file", "files"))
		if r.Skipped > 0 {
			s += fmt.Sprintf(", %d unchanged (already there)", r.Skipped)
		}
		if len(r.Failed) > 0 {
			s += fmt.Sprintf(", %d would not arrive", len(r.Failed))
		}
		return s
	}
	moved, movedBytes := r.Files-r.Skipped, r.Bytes-r.SkippedBytes
	s := fmt.Sprintf("%s %s (%s)", verb, count(moved, "file", "files"), bytesize.Format(movedBytes))
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d unchanged (%s, already there)", r.Skipped, bytesize.Format(r.SkippedBytes))
	}
	if r.Hardlinks > 0 {
		s += ", " + count(r.Hardlinks, "hard link", "hard links")
	}
	if r.HoleBytes > 0 {
		s += fmt.Sprintf(", %s of holes not sent", bytesize.Format(r.HoleBytes))
	}
	if len(r.Failed) > 0 {
		s += fmt.Sprintf(", %d failed", len(r.Failed))
	}
	if r.Dirs > 0 {
		s += ", " + count(r.Dirs, "directory", "directories")
	}
	if r.Symlinks > 0 {
		s += ", " + count(r.Symlinks, "symlink", "symlinks")
	}
	s += fmt.Sprintf("; %s on the wire in %.2f s", bytesize.Format(r.BytesSent), r.Seconds)
	if r.Seconds > 0 && r.BytesSent > 0 {
		s += fmt.Sprintf(" (%s/s)", bytesize.Format(int64(float64(r.BytesSent)/r.Seconds)))
	}
	if r.Resumed > 0 {
		s += fmt.Sprintf("; %s reused from parts", bytesize.Format(r.Resumed))
	}
	if r.Verified {
		s += "; verified"
	}
	return s
}

// count is "1 file", "2 files".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// printJSON prints r, and err if the session failed, as one JSON object
// on stdout.
func printJSON(e *env, r session.Result, err error) {
	out := struct {
		session.Result
		PeakRSSKiB int64  `json:"peak_rss_kib,omitempty"` // Linux: VmHWM of this process
		Error      string `json:"error,omitempty"`
	}{Result: r, PeakRSSKiB: peakRSS()}
	if err != nil {
		out.Error = plain(err).Error()
	}
	b, _ := json.Marshal(out)
	fmt.Fprintf(e.stdout, "%s\n", b)
}
