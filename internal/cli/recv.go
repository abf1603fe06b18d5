package cli

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/zcopy/zcopy/internal/session"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/zerocopy"
)

func init() {
	register(&command{
		name:     "recv",
		order:    30,
		synopsis: "recv [user@]HOST:PATH... DIR  |  recv (--listen ADDR | --from ADDR) (--dir DIR | --raw -o FILE)",
		summary:  "receive files and trees over TCP (serve for push, or fetch by pull)",
		help: `One command, as scp and rsync:

  zcopy recv user@host:photos user@host:/etc/hosts .   (PATH: relative to the far home)
  zcopy recv host:big.iso /srv/in     (again after an interruption: resumes)

runs 'zcopy send' on HOST over the system's ssh, which listens on a port
of its own and tells this end the port and a fresh token; the files then
come straight from that port, encrypted (TLS 1.3) unless --plaintext, so
ssh never carries them. Everything below about --dir holds for DIR. --ssh
and --remote-zcopy are as in 'zcopy send --help'.

Both ends by hand: recv receives what 'zcopy send' sends and writes it
under --dir DIR. With --listen it waits on ADDR (port 0 picks one, printed on stderr) for senders
(push): one, or with --keep many at once until SIGINT/SIGTERM, after which it
lets the transfers in flight finish and exits 0. With --from it fetches from
a sender serving on ADDR (pull). Without --keep, a connection that does not
complete the handshake (nc -z, a browser, a wrong token) is logged and the
wait goes on, for at most --timeout if given.

Everything is written through an os.Root confined to DIR: absolute paths,
"..", names with NUL and paths through symlinks are refused. Each file is
written as NAME.zcopy-part and renamed to NAME only when complete (after an
fsync with --fsync, after its hash matched with --verify); an interrupted
transfer leaves the .zcopy-part, which the next transfer of the same file
continues, so that only the missing bytes cross the wire (resuming is the
default; --no-resume starts every file over; --resume, which older
versions needed, is still accepted and changes nothing). A file already
present with the same size and mtime is skipped; one that differs is
refused unless --overwrite. Modes and mtimes are kept. --streams N
fetches over N connections (see 'zcopy send --help'). Transfers are
encrypted (TLS 1.3) and authenticated by a shared token unless both ends
give --plaintext: see 'zcopy send --help'.
A sparse file arrives sparse: its holes are not written. A sender's
--dry-run (send -n) is answered by looking only: nothing is written.
--dry-run here (with --listen) takes only such senders and does not even
make --dir; the one-command 'zcopy send -n PATH HOST:DIR' starts its far
end so.

--raw stores every byte that arrives until the sender closes, so any TCP
tool can send:   nc -N 127.0.0.1 1033 < data.bin
-o FILE is written as FILE.zcopy-part and renamed to FILE only when the
stream ended cleanly; after an error (such as a reset from a sender whose
file was truncated) nothing is left under FILE and the exit status is 1.
-o - writes to stdout; -o /dev/null (or any device or FIFO) is written
directly, which is what throughput measurements use.
Raw mode has no header: without --size, the end of the stream is taken
for the end of the file, and a sender that was killed mid-file (its
kernel closes the connection in order) cannot be told from one that
finished. --size N refuses a stream that ends before N bytes or goes on
after them (after the N-th byte zcopy waits a second for the end of the
stream, since nc without -N never closes its side; a byte that comes later
is not seen); give it whenever the size is known (zcopy send --raw prints
it).

Parts: every file is received through its part (.zcopy-part, or
.zcopy-ranges over several streams), created exclusively and never
through a symlink; while one transfer writes a part, another that wants
the same name fails that file at once instead of mixing the two. A part
records which version of the source it holds (size, mtime, the sender's
file identity, in an extended attribute): it is continued only for that
same version, and otherwise started over, saying so. The progress bar
starts at what the parts hold, and the summary says how much was reused
from them.

Signals: SIGINT (Ctrl-C) or SIGTERM ends a transfer at once; the end that
was interrupted says what it kept (such as "part kept: 285.0 MiB of 1.0
GiB in big.iso.zcopy-part") and exits 128 + the signal's number: 130 for
SIGINT, 143 for SIGTERM. A server under --keep instead stops accepting and
lets the transfers in flight finish (--grace); a second signal cuts them
at once. A file that
appears under the final name while it is received is kept, not replaced,
unless --overwrite.

Methods: auto (splice on Linux: socket -> pipe -> file, falling back to
readwrite where the output refuses splice), readwrite, splice. Encrypted
transfers are received by readwrite; splice needs --plaintext.

` + exitStatuses,
		run: runRecv,
	})
}

func runRecv(e *env, args []string) int {
	c := commands["recv"]
	fs := newFlagSet(c.name)
	raw := fs.Bool("raw", false, "store the stream's bytes as they are in -o FILE (nc-compatible)")
	dir := fs.String("dir", "", "write what arrives under `DIR` (framed mode)")
	keep := fs.Bool("keep", false, "with --listen: serve senders until SIGINT or SIGTERM")
	verify := fs.Bool("verify", false, "hash every file at both ends (XXH3-128) and fail mismatches")
	sec := addSecureFlags(fs, "senders")
	noResume := fs.Bool("no-resume", false, "start every file over: a .zcopy-part left by an earlier transfer is removed, not continued")
	resume := fs.Bool("resume", false, "the default (kept for old command lines): continue files from their .zcopy-part when it holds the start of the same version")
	overwrite := fs.Bool("overwrite", false, "replace existing files that differ")
	fsync := fs.Bool("fsync", false, "fsync each file before renaming it into place")
	idle := fs.Duration("idle-timeout", 60*time.Second, "give up on a peer silent this long")
	streams := fs.Int("streams", 1, "with --to (send) or --from (recv): spread the transfer over `N` connections")
	headerTimeout := fs.Duration("header-timeout", 10*time.Second, "give up on a peer that has not finished the handshake by then")
	srv, mem := addServeFlags(fs), addMemoryFlags(fs)
	var m zerocopy.Method
	fs.TextVar(&m, "method", zerocopy.Auto, "receive `method`: auto, readwrite, splice")
	listen := fs.String("listen", "", "listen on `ADDR` and receive from the first sender that connects")
	from := fs.String("from", "", "connect to a sender at `ADDR`")
	out := fs.String("o", "", "write to `FILE` (- for stdout)")
	asJSON := fs.Bool("json", false, "print one JSON object with the transfer's figures on stdout")
	quiet := fs.Bool("q", false, "print nothing but errors")
	var chunk, buffer, size bytesize.Value
	fs.Var(&size, "size", "with --raw: the file is exactly `SIZE` bytes; a shorter or longer stream fails")
	fs.Var(&chunk, "chunk", "most bytes (`SIZE`) per splice call (default 4MiB, limited by the pipe)")
	fs.Var(&buffer, "buffer", "readwrite buffer `SIZE` (default 256KiB)")
	sshf := addSSHFlags(fs)
	owner := fs.Bool("owner", false, "take a sender's --owner: as root, give what arrives the sender's numeric owner and group")
	del := fs.Bool("delete", false, "allow a sender's --delete: remove under each directory it sends what it does not list there")
	dry := fs.Bool("dry-run", false, "with --listen: take only a sender's --dry-run, and write nothing, not even --dir (send -n HOST:DIR starts its far end so)")
	pos, code, ok := parse(e, c, fs, args)
	if !ok {
		return code
	}
	if code, ok := checkAddrFlags(e, c, *quiet, addrFlag{"--listen", listen}, addrFlag{"--from", from}); !ok {
		return code
	}
	if *resume && *noResume {
		return usageError(e, c, "--resume and --no-resume contradict each other (resuming is the default)")
	}
	if spec, paths, local, ok := remoteSources(pos, *dir); ok && !*raw && *listen == "" && *from == "" {
		switch {
		case spec.Login == "":
			return usageError(e, c, "the one-command pull takes remote paths of one [user@]HOST, then the local DIR: zcopy recv HOST:PATH... DIR")
		case slices.Contains(paths, ""):
			return usageError(e, c, "%s names no path on %s (say HOST:PATH, such as HOST:photos or HOST:/srv/data)", pos[0], spec.Host())
		case local == "":
			return usageError(e, c, "want a local DIR after the remote paths (or --dir DIR)")
		case *dir != "" && len(paths) != len(pos):
			return usageError(e, c, "give the local DIR as the last argument or as --dir, not both")
		case *keep || *streams > 1 || sec.token.set || sshf.announce:
			return usageError(e, c, "%s is the one-command form: --keep, --streams, --token and --announce do not go with it", pos[0])
		case !zerocopy.Supported(m, false):
			return usageError(e, c, "method %v cannot receive on this system (have %v)", m, zerocopy.ReceiveMethods())
		case sec.checkMethod(m) != "":
			return usageError(e, c, "%s", sec.checkMethod(m))
		}
		far := []string{"send", "--listen", ":0", "--announce", "-q"}
		if sec.plaintext {
			far = append(far, "--plaintext")
		}
		far = append(append(far, "--"), paths...)
		opts := session.Options{Method: m, Verify: *verify, Dialed: true, Plaintext: sec.plaintext, Resume: !*noResume,
			Overwrite: *overwrite, Fsync: *fsync, IdleTimeout: *idle, HeaderTimeout: *headerTimeout, DryRun: *dry, Delete: *del, Owner: *owner}
		var fe farEnd
		code := framedRecv(e, c, local, "", fe.connect(e, c, sshf, spec, far), srv.withKeep(false), mem.memory(), 1, opts, *asJSON, *quiet)
		return fe.finish(e, c, code)
	}
	if bad := sshf.misused(fs); bad != "" {
		return usageError(e, c, "%s", bad)
	}
	if sshf.announce && (*raw || *listen == "" || *keep) {
		return usageError(e, c, "--announce goes with --listen in framed mode, without --keep (the one-command form starts its far end so)")
	}
	sizeSet := false
	fs.Visit(func(f *flag.Flag) { sizeSet = sizeSet || f.Name == "size" })
	if bad := cmp.Or(srv.check(fs, *keep), mem.check(fs, *raw)); bad != "" {
		return usageError(e, c, "%s", bad)
	}
	if isSet(fs, "timeout") && *listen == "" {
		return usageError(e, c, "--timeout goes with --listen (it bounds the wait for a peer)")
	}
	if !*raw {
		switch {
		case sizeSet:
			return usageError(e, c, "--size goes with --raw (framed transfers carry each file's size)")
		case len(pos) != 0:
			return usageError(e, c, "unexpected arguments %q", pos)
		case *dir == "":
			return usageError(e, c, "--dir DIR is required (or --raw -o FILE)")
		case *out != "":
			return usageError(e, c, "-o goes with --raw; framed mode writes under --dir")
		case *dry && *listen == "":
			return usageError(e, c, "--dry-run goes with --listen: a sender's --dry-run asks the receiver for one")
		case *keep && *listen == "":
			return usageError(e, c, "--keep goes with --listen")
		case *streams < 1 || *streams > 64:
			return usageError(e, c, "--streams wants 1 to 64, not %d", *streams)
		case *streams > 1 && *from == "":
			return usageError(e, c, "--streams goes with --from (a server takes whatever streams senders open)")
		case (*listen == "") == (*from == ""):
			return usageError(e, c, "give exactly one of --listen ADDR and --from ADDR")
		case !zerocopy.Supported(m, false):
			return usageError(e, c, "method %v cannot receive on this system (have %v)", m, zerocopy.ReceiveMethods())
		case sec.checkMethod(m) != "":
			return usageError(e, c, "%s", sec.checkMethod(m))
		}
		opts := session.Options{Method: m, Verify: *verify, Dialed: *from != "", Resume: !*noResume,
			Overwrite: *overwrite, Fsync: *fsync, IdleTimeout: *idle, HeaderTimeout: *headerTimeout, DryRun: *dry, Delete: *del, Owner: *owner}
		if sshf.announce {
			e = farListen(e, sec, srv, &opts.Token)
		}
		made, err := sec.apply(e, c, &opts, *listen != "")
		if err != nil {
			return fail(e, c, err)
		}
		if made {
			srv.announce = func(a net.Addr) { announceToken(e, c, opts.Token, sec.plaintext, a, "send --to", "PATH...") }
		}
		return framedRecv(e, c, *dir, *listen, addrConnector(*from), srv.withKeep(*keep), mem.memory(), *streams, opts, *asJSON, *quiet)
	}
	switch {
	case *dir != "" || *keep || *resume || *noResume || *overwrite || *verify || sec.token.set || *dry || *del || *owner:
		return usageError(e, c, "--raw stores one stream in -o FILE: --dir, --keep, --resume, --no-resume, --overwrite, --verify, --token, --dry-run, --delete and --owner need the framed protocol")
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
	// Before any socket: a bad -o fails now, not when the peer arrives.
	if err := rawxfer.CheckOutput(*out); err != nil {
		return fail(e, c, err)
	}
	conn, err := rawxfer.Connect(e.ctx, rawxfer.Endpoint{
		Listen:   *listen,
		Dial:     *from,
		OnListen: func(a net.Addr) { fmt.Fprintf(e.stderr, "zcopy recv: listening on %s\n", a) },

		AcceptTimeout: srv.timeout,
	})
	if err != nil {
		return fail(e, c, err)
	}
	want := int64(-1)
	if sizeSet {
		want = int64(size)
	}
	st, err := rawxfer.Receive(e.ctx, conn, *out, stdout, want, zerocopy.ReceiveOptions{
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
