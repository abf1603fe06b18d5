package cli

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/zcopy/zcopy/internal/session"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/internal/remote"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

func init() {
	register(&command{
		name:     "send",
		order:    20,
		synopsis: "send PATH... [user@]HOST:DIR  |  send [--raw] (--listen ADDR | --to ADDR) PATH...",
		summary:  "send files and directory trees over TCP (push, or serve for pull)",
		help: `One command, as scp and rsync:

  zcopy send ~/photos notes.txt user@host:backup     (DIR: relative to the far home)
  zcopy send --plaintext big.iso host:/srv/in        (zero copy, unencrypted)

runs 'zcopy recv' on HOST over the system's ssh (its config, keys, agent
and known_hosts as they are), which listens on a port of its own and tells
this end the port and a fresh token; the files then go straight to that
port, encrypted (TLS 1.3) unless --plaintext, so ssh never carries them.
The far end's messages are shown prefixed with HOST, it ends with the
transfer (or when ssh goes away), and its failure is this command's.
--ssh COMMAND replaces ssh (split at spaces as rsync's -e: --ssh "ssh -p
2222 -i key"); zcopy must be on the far login's PATH, or named with
--remote-zcopy PATH. HOST's port must be reachable from here (ssh's is not
used for the data). As in scp, an argument is remote when a colon comes
before any slash: write ./a:b for a local file named a:b.

Both ends by hand: send sends files and trees to 'zcopy recv'. With --to
it connects to a receiver at ADDR (push); with --listen it waits on ADDR
(host:port; port 0 picks one, printed on stderr) for receivers that fetch
(pull), one and exit, or with --keep one after another until SIGINT/SIGTERM.
A connection that does not complete the handshake (nc -z, a port scanner,
a browser, a wrong token) is logged and does not use up a listener
without --keep: it waits on for a peer that does, for at most --timeout
if given.

zcopy's framed protocol (docs/PROTOCOL.md) sends each PATH under its base
name: a file as itself, a directory with everything under it (symlinks as
links, never followed; devices, FIFOs and sockets left out with a warning).
--verify adds an end-to-end XXH3-128 hash per file. The receiver decides
about existing files, resume and fsync: it continues a file from the
.zcopy-part an interrupted transfer left (only the missing bytes cross)
unless 'zcopy recv --no-resume', and replaces a file that differs only
with 'zcopy recv --overwrite'. The one-command form passes --no-resume
and --overwrite on to the receiver it starts.

Signals: SIGINT (Ctrl-C) or SIGTERM ends a transfer at once; the end that
was interrupted says what it kept and exits 130 (SIGINT) or 143
(SIGTERM). A server under --keep lets the transfers in flight finish
(--grace) instead; a second signal cuts them at once.

Sparse files stay sparse (Linux,
FreeBSD, macOS): the holes of a file larger than 64 KiB do not cross the
wire and are not written at the receiver; the summary (and --json's
hole_bytes) says how much was holes.

--exclude PATTERN (repeatable) leaves out what matches, with rsync's glob
rules as far as they go here: a PATTERN without a slash matches a name at
any depth (--exclude '*.o'); with a slash it matches the path from the
transfer root, which starts with the base name of the PATH given
(--exclude src/build, or /src/build); a trailing slash matches directories
only (--exclude 'cache/'); ** crosses directories (--exclude '**/tmp/*').
Unlike rsync, a pattern with a slash is never matched against the end of a
path: write **/a/b for that. Nothing under an excluded directory is listed.

-H, --hard-links sends a file with several names under these PATHs once:
its other names arrive as hard links to it (within one transfer; over
--streams N the linked files go whole on the first stream).

--delete removes at the receiver, under each directory sent, every name
that is not under it here (as rsync --delete), once everything arrived:
after any failure nothing is removed. The receiver must allow it (recv
--delete; the one-command form starts its far end so); one that does not
refuses the transfer at once. Not with --exclude or --streams.

--owner sends each entry's numeric owner and group (not names); a
receiver that runs as root gives them to what it makes (and to what it
has already), elsewhere it says it cannot. The receiver must allow it
(recv --owner; the one-command form starts its far end so). One stream.

--bwlimit RATE sends file bodies at most at RATE bytes a second on
average, over all streams (10MiB, 500KB; a bare number is KiB/s, as
rsync's): the engine moves a tenth of a second's worth at a time (sendfile
still, in plaintext) and waits between.

-n, --dry-run asks the receiver what it would do and sends nothing: one
line an entry on stdout (send, skip, refuse, fail, dir, link), a summary on
stderr, and the exit status the real run would have. The receiver only
looks; it writes nothing. It goes over one stream (--streams is ignored).

Encryption: the transfer runs inside TLS 1.3 by default, with a throwaway
certificate (nothing to set up), and each end proves the shared token
(--token SECRET, or $ZCOPY_TOKEN) bound to that TLS session, so a man in
the middle is detected and the token never crosses the wire. The end that
listens makes a token if given none and prints the command the other end
runs. Bodies are then encrypted in user space (pread and write, not zero
copy). --plaintext at BOTH ends turns encryption off: bodies go by
sendfile unless --method says otherwise, and anyone on the path can read
them; use it only on networks you control. One end --plaintext and the
other not fails at once at both, saying so (a listener without --keep
then waits for another peer).

--streams N spreads a push over N connections: files of 64 MiB or more are
cut into N ranges, one per connection, and smaller files go, in batches, to
the connection with the least to carry. It pays on long, fat links where one
TCP stream cannot fill the pipe; on a LAN or a spinning disk one stream (the
default) is usually best.

--raw sends the file's bytes and nothing else, so any TCP tool can receive:
  zcopy send --raw --listen 127.0.0.1:1033 data.bin   and   nc 127.0.0.1 1033 > out
FILE may be - for standard input (a pipe, a FIFO, a device), sent until it
ends: tar c dir | zcopy send --raw --to HOST:PORT -
If the send fails (the file was truncated, the peer went away) the connection
is reset rather than closed, so the receiver cannot mistake it for the end of
the file. A sender killed outright cannot reset: its kernel closes the
connection in order, and only a receiver told the size (zcopy recv --raw
--size N, which this command prints when it starts) can tell. The exit
status is 0 on success, 1 on failure, 2 on bad usage.

Methods: auto (the best the platform has: sendfile, falling back to readwrite
when the kernel refuses it), readwrite, mmap, sendfile, splice. Encrypted
transfers are sent by readwrite; the others need --plaintext.

Another process may append to FILE or rewrite it while it is sent; zcopy
never makes it wait. If FILE changed during the send (its size or mtime
differ afterwards), the copy may mix old and new bytes, so the send fails
and resets the connection. --lease (Linux) stops the send as soon as
any writer opens FILE instead, at the cost of that writer waiting (a few
milliseconds) or, if it opens with O_NONBLOCK, failing.

` + exitStatuses,
		run: runSend,
	})
}

func runSend(e *env, args []string) int {
	c := commands["send"]
	fs := newFlagSet(c.name)
	raw := fs.Bool("raw", false, "send one file's bytes only, with no framing (nc-compatible)")
	keep := fs.Bool("keep", false, "with --listen: serve receivers until SIGINT or SIGTERM")
	verify := fs.Bool("verify", false, "hash every file at both ends (XXH3-128) and fail mismatches")
	sec := addSecureFlags(fs, "the receiver")
	idle := fs.Duration("idle-timeout", 60*time.Second, "give up on a peer silent this long")
	streams := fs.Int("streams", 1, "with --to (send) or --from (recv): spread the transfer over `N` connections")
	headerTimeout := fs.Duration("header-timeout", 10*time.Second, "give up on a peer that has not finished the handshake by then")
	srv := addServeFlags(fs)
	var m zerocopy.Method
	fs.TextVar(&m, "method", zerocopy.Auto, "transfer `method`: auto, readwrite, mmap, sendfile, splice")
	listen := fs.String("listen", "", "listen on `ADDR` and send to the first receiver that connects")
	to := fs.String("to", "", "connect to a receiver at `ADDR`")
	asJSON := fs.Bool("json", false, "print one JSON object with the transfer's figures on stdout")
	quiet := fs.Bool("q", false, "print nothing but errors")
	lease := fs.Bool("lease", false, "hold a read lease on the file while it is sent (Linux): any writer's open stops the send at once, and waits for the lease's release")
	var chunk, buffer bytesize.Value
	fs.Var(&chunk, "chunk", "most bytes (`SIZE`) per sendfile or splice call and per mmap window (default 4MiB)")
	fs.Var(&buffer, "buffer", "readwrite buffer `SIZE` (default 256KiB)")
	sshf := addSSHFlags(fs)
	noResume := fs.Bool("no-resume", false, "with HOST:DIR: the far receiver starts every file over instead of continuing its .zcopy-part (by hand, give it to zcopy recv)")
	overwrite := fs.Bool("overwrite", false, "with HOST:DIR: the far receiver replaces existing files that differ (by hand, give it to zcopy recv)")
	dry := fs.Bool("dry-run", false, "show what would be sent, skipped or refused at the receiver, and send and write nothing")
	fs.BoolVar(dry, "n", false, "short for --dry-run")
	hard := fs.Bool("hard-links", false, "send each other name of a file as a hard link to its first (as rsync -H): the bytes cross once")
	fs.BoolVar(hard, "H", false, "short for --hard-links")
	del := fs.Bool("delete", false, "remove at the receiver, under each directory sent, what is not under it here (the receiver must allow it: recv --delete; the one-command form does)")
	owner := fs.Bool("owner", false, "send each file's numeric owner and group, for a receiver that runs as root to keep (it must allow it: recv --owner; the one-command form does)")
	bwlimit := fs.String("bwlimit", "", "send file bodies at most at `RATE` bytes per second over all streams (10MiB, 500KB; a bare number is KiB/s, as rsync's)")
	var excludes patterns
	fs.Var(&excludes, "exclude", "leave out what matches `PATTERN` (repeatable; rsync's glob rules: without a slash a name at any depth, with one a path from the transfer root, a trailing slash directories only)")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	sf := sendFlags{dryRun: *dry, hard: *hard}
	var limit *session.Limiter
	if *bwlimit != "" {
		rate, err := parseRate(*bwlimit)
		if err != nil {
			return usageError(e, c, "--bwlimit %s: %v", *bwlimit, err)
		}
		if *raw {
			return usageError(e, c, "--bwlimit goes with the framed protocol")
		}
		limit = session.NewLimiter(rate)
	}
	if (*dry || *hard || *del || *owner) && *raw {
		return usageError(e, c, "--dry-run, --hard-links, --delete and --owner go with the framed protocol: --raw sends one file's bytes")
	}
	switch {
	case *del && len(excludes) > 0:
		return usageError(e, c, "--delete with --exclude would remove the excluded names at the receiver (the receiver does not know the patterns): use one or the other")
	case *del && *streams > 1:
		return usageError(e, c, "--delete goes over one stream (drop --streams)")
	case *owner && *streams > 1:
		return usageError(e, c, "--owner goes over one stream (drop --streams)")
	}
	if len(excludes) > 0 {
		if *raw {
			return usageError(e, c, "--exclude goes with the framed protocol: --raw sends one file")
		}
		x, err := tree.NewExclude(excludes)
		if err != nil {
			return usageError(e, c, "%v", err)
		}
		sf.exclude = x
	}
	if code, ok := checkAddrFlags(e, c, *quiet, addrFlag{"--listen", listen}, addrFlag{"--to", to}); !ok {
		return code
	}
	if bad := srv.check(fs, *keep); bad != "" {
		return usageError(e, c, "%s", bad)
	}
	if spec, ok := remoteDest(pos); ok && !*raw && *listen == "" && *to == "" {
		paths := pos[:len(pos)-1]
		switch {
		case *keep || *streams > 1 || sec.token.set || sshf.announce:
			return usageError(e, c, "%s is the one-command form: --keep, --streams, --token and --announce do not go with it", pos[len(pos)-1])
		case !zerocopy.Supported(m, true):
			return usageError(e, c, "method %v is not available on this system (have %v)", m, zerocopy.SendMethods())
		case sec.checkMethod(m) != "":
			return usageError(e, c, "%s", sec.checkMethod(m))
		}
		for _, p := range paths {
			if _, ok := remote.Parse(p); ok {
				return usageError(e, c, "%s is a remote path: send takes local PATHs (to fetch, run zcopy recv [user@]HOST:PATH... DIR; write ./%s for a local name with a colon)", p, p)
			}
		}
		far := []string{"recv", "--listen", ":0", "--announce", "-q", "--dir", cmp.Or(spec.Path, ".")}
		if sec.plaintext {
			far = append(far, "--plaintext")
		}
		// The far end resumes by default; these are its flags.
		if *noResume {
			far = append(far, "--no-resume")
		}
		if *overwrite {
			far = append(far, "--overwrite")
		}
		if *dry {
			far = append(far, "--dry-run")
		}
		if *del {
			far = append(far, "--delete")
		}
		if *owner {
			far = append(far, "--owner")
		}
		opts := session.Options{Owner: *owner, Limit: limit, Delete: *del, Method: m, Verify: *verify, Dialed: true, Plaintext: sec.plaintext, IdleTimeout: *idle, HeaderTimeout: *headerTimeout}
		// Here the user gives the far receiver's --overwrite to send: the
		// hint in refusals (the far end's and the local) says so.
		e := &env{ctx: e.ctx, stdout: e.stdout, stderr: &replacer{w: e.stderr, old: session.OverwriteHint, new: "(zcopy send --overwrite replaces it)"}}
		var fe farEnd
		code := framedSend(e, c, paths, "", fe.connect(e, c, sshf, spec, far), srv.withKeep(false), 1, opts, sf, *asJSON, *quiet)
		return fe.finish(e, c, code)
	}
	if bad := sshf.misused(fs); bad != "" {
		return usageError(e, c, "%s", bad)
	}
	switch {
	case *noResume || *overwrite:
		return usageError(e, c, "--no-resume and --overwrite go with a remote [user@]HOST:DIR (the one-command form starts the receiver); by hand, the receiver decides: give them to zcopy recv")
	case sshf.announce && (*raw || *listen == "" || *keep):
		return usageError(e, c, "--announce goes with --listen in framed mode, without --keep (the one-command form starts its far end so)")
	case len(pos) == 0:
		return usageError(e, c, "want at least one PATH to send")
	case *raw && len(pos) != 1:
		return usageError(e, c, "--raw sends one FILE, got %d arguments", len(pos))
	case !*raw && slices.Contains(pos, "-"):
		return usageError(e, c, "- (standard input) goes with --raw: the framed protocol sends files and trees it can list")
	case *raw && (*keep || *verify || sec.token.set):
		return usageError(e, c, "--raw has no framing: --keep, --verify and --token need the framed protocol")
	case *keep && *listen == "":
		return usageError(e, c, "--keep goes with --listen")
	case isSet(fs, "timeout") && *listen == "":
		return usageError(e, c, "--timeout goes with --listen (it bounds the wait for a peer)")
	case *streams < 1 || *streams > 64:
		return usageError(e, c, "--streams wants 1 to 64, not %d", *streams)
	case *streams > 1 && (*raw || *to == ""):
		return usageError(e, c, "--streams goes with --to in framed mode (a receiver that fetches asks for its own streams)")
	case (*listen == "") == (*to == ""):
		return usageError(e, c, "give exactly one of --listen ADDR and --to ADDR")
	case !zerocopy.Supported(m, true):
		return usageError(e, c, "method %v is not available on this system (have %v)", m, zerocopy.SendMethods())
	case !*raw && sec.checkMethod(m) != "":
		return usageError(e, c, "%s", sec.checkMethod(m))
	}
	if !*raw {
		opts := session.Options{Method: m, Verify: *verify, Dialed: *to != "", IdleTimeout: *idle, HeaderTimeout: *headerTimeout, Delete: *del, Limit: limit, Owner: *owner}
		if sshf.announce {
			e = farListen(e, sec, srv, &opts.Token)
		}
		made, err := sec.apply(e, c, &opts, *listen != "")
		if err != nil {
			return fail(e, c, err)
		}
		if made {
			srv.announce = func(a net.Addr) { announceToken(e, c, opts.Token, sec.plaintext, a, "recv --from", "--dir DIR") }
		}
		return framedSend(e, c, pos, *listen, addrConnector(*to), srv.withKeep(*keep), *streams, opts, sf, *asJSON, *quiet)
	}
	// Open the file before any connection, so a missing file is an error
	// at once rather than a reset for the first receiver. "-" is stdin,
	// sent until its end (the engine reads a pipe in order, by readwrite).
	f := os.Stdin
	if pos[0] != "-" {
		var err error
		if f, err = os.Open(pos[0]); err != nil {
			return fail(e, c, err)
		}
		defer f.Close()
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(e, c, err)
	}
	if fi.IsDir() {
		return fail(e, c, fmt.Errorf("%s is a directory: --raw sends one file's bytes (without --raw, zcopy send sends a tree to zcopy recv --dir)", pos[0]))
	}
	if fi.Mode().IsRegular() && !*quiet {
		fmt.Fprintf(e.stderr, "zcopy send: %s is %d bytes (receive with: zcopy recv --raw --size %d -o FILE)\n", pos[0], fi.Size(), fi.Size())
	}
	conn, err := rawxfer.Connect(e.ctx, rawxfer.Endpoint{
		Listen:   *listen,
		Dial:     *to,
		OnListen: func(a net.Addr) { fmt.Fprintf(e.stderr, "zcopy send: listening on %s\n", a) },

		AcceptTimeout: srv.timeout,
	})
	if err != nil {
		return fail(e, c, err)
	}
	st, err := rawxfer.Send(e.ctx, conn, f, zerocopy.SendOptions{
		Method:     m,
		ChunkSize:  int64(chunk),
		BufferSize: int(buffer),
		Lease:      *lease,
	})
	report(e, "sent", st, err, *asJSON, *quiet)
	if err != nil {
		return fail(e, c, err)
	}
	return exitOK
}

// tokenFlag is --token. Its default, $ZCOPY_TOKEN, is read by get, after
// the flags are parsed and only if --token was not given: --help prints
// each flag's default, and printed the secret when the default was the
// variable's value (issue 14). --raw, which has no token, refuses --token
// but ignores the variable.
type tokenFlag struct {
	value string
	set   bool
}

// String is what --help shows as the default: nothing.
func (t *tokenFlag) String() string { return "" }

func (t *tokenFlag) Set(s string) error {
	t.value, t.set = s, true
	return nil
}

// get returns --token if it was given (even empty, which turns the token
// off), else $ZCOPY_TOKEN.
func (t *tokenFlag) get() string {
	if t.set {
		return t.value
	}
	return os.Getenv("ZCOPY_TOKEN")
}

// replacer writes to w with old replaced by new in each write (each of
// zcopy's lines is one write).
type replacer struct {
	w        io.Writer
	old, new string
}

func (r *replacer) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(r.old)) {
		return r.w.Write(p)
	}
	if _, err := r.w.Write(bytes.ReplaceAll(p, []byte(r.old), []byte(r.new))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// parseRate reads --bwlimit's RATE: a size with a unit (10MiB, 500KB) a
// second, or a bare number of KiB a second, as rsync's --bwlimit.
func parseRate(s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, err
	}
	if strings.Trim(s, "0123456789") == "" {
		n *= 1024
	}
	if n <= 0 {
		return 0, errors.New("want a rate above zero")
	}
	return n, nil
}
