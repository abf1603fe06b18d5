package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/internal/remote"
	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/session"
)

// sshFlags are the one-command form's: how to reach the far end.
type sshFlags struct {
	ssh      string
	zcopy    string
	announce bool
}

// addSSHFlags defines --ssh, --remote-zcopy and --announce on fs.
func addSSHFlags(fs *flag.FlagSet) *sshFlags {
	f := &sshFlags{}
	fs.StringVar(&f.ssh, "ssh", "ssh", "with HOST:PATH: the `COMMAND` that runs the far end, split at spaces as rsync's -e (such as \"ssh -p 2222 -i key\")")
	fs.StringVar(&f.zcopy, "remote-zcopy", "zcopy", "with HOST:PATH: the far end's zcopy (`PATH`; default: zcopy on the far login's PATH)")
	fs.BoolVar(&f.announce, "announce", false, "with --listen: print one JSON line (port and a fresh token) on stdout once listening, and end when stdin closes; the one-command form starts its far end so")
	return f
}

// usedWith says which of the one-command form's flags were given, for a
// command line that is not that form.
func (f *sshFlags) misused(fs *flag.FlagSet) string {
	if isSet(fs, "ssh") || isSet(fs, "remote-zcopy") {
		return "--ssh and --remote-zcopy go with a remote [user@]HOST:PATH argument"
	}
	return ""
}

// farEnd is a far end run over ssh for the one-command form.
type farEnd struct {
	far     *remote.Far
	started bool // connect ran far far enough to need waiting for
}

// connect returns the connector that starts the far end: ssh to spec's
// login running the far zcopy with args (after the binary), reads its
// announcement and sets o's token from it; the connections then go
// straight to the far host's port.
func (fe *farEnd) connect(e *env, c *command, f *sshFlags, spec remote.Spec, args []string) connector {
	return func(o *session.Options) (session.Dial, error) {
		ssh, err := remote.SplitCommand(f.ssh)
		if err != nil {
			return nil, fmt.Errorf("--ssh %q: %w", f.ssh, err)
		}
		far, err := remote.Start(remote.Config{
			SSH:     ssh,
			Login:   spec.Login,
			Command: append([]string{f.zcopy}, args...),
			Stderr:  e.stderr,
			Prefix:  spec.Host() + ": ",
		})
		if err != nil {
			return nil, err
		}
		fe.far = far
		a, err := far.Announcement(e.ctx)
		if err != nil {
			return nil, err
		}
		fe.started = true
		o.Token = a.Token
		hosts := []string{spec.Host()}
		if a.Addr != "" && a.Addr != spec.Host() {
			hosts = append(hosts, a.Addr)
		}
		port := strconv.Itoa(a.Port)
		return func(ctx context.Context) (net.Conn, error) {
			var errs []error
			for _, h := range hosts {
				conn, err := rawxfer.Connect(ctx, rawxfer.Endpoint{Dial: net.JoinHostPort(h, port), DialTimeout: 10 * time.Second})
				if err == nil {
					return conn, nil
				}
				errs = append(errs, err)
			}
			return nil, errors.Join(errs...)
		}, nil
	}
}

// finish waits for the far end after the local end's transfer ended with
// exit status code, reports the far end's status if it failed, and
// returns the status of the whole: the local one, or the far end's if
// only it failed (23 stays 23; anything else is 1).
func (fe *farEnd) finish(e *env, c *command, code int) int {
	if fe.far == nil {
		return code
	}
	if !fe.started {
		// The far end never got as far as its announcement: connect's
		// error, reported already, said how it ended.
		fe.far.Close()
		return code
	}
	// After a transfer the far end exits on its own within moments;
	// after a local failure it notices the connection's end. Past the
	// grace, its stdin is closed, which ends it.
	grace := 30 * time.Second
	if code != exitOK {
		grace = 5 * time.Second
	}
	err := fe.far.Wait(grace)
	if err == nil {
		return code
	}
	fmt.Fprintf(e.stderr, "zcopy %s: %v\n", c.name, err)
	if code != exitOK {
		return code
	}
	var re *remote.Error
	if errors.As(err, &re) && re.Code == exitPartial {
		return exitPartial
	}
	return exitFail
}

// farListen prepares a listening end started with --announce: a fresh
// token unless --token was given ($ZCOPY_TOKEN in the far login's
// environment is not what the local end expects), the announcement on
// stdout in place of the "listening on" line, and an end when stdin
// (sshd's pipe) closes. It returns the env to run under.
func farListen(e *env, sec *secureFlags, srv *serveFlags, token *string) *env {
	if !sec.token.set {
		sec.token.Set(secure.NewToken())
	}
	srv.machine = true
	srv.announce = func(a net.Addr) {
		port := 0
		if ta, ok := a.(*net.TCPAddr); ok {
			port = ta.Port
		}
		remote.Announce(e.stdout, port, *token)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	remote.WatchStdin(os.Stdin, cancel)
	return &env{ctx: ctx, stdout: e.stdout, stderr: e.stderr}
}

// remoteDest reports whether the last of send's arguments is a remote
// [user@]HOST:DIR after at least one PATH: the one-command push.
func remoteDest(pos []string) (remote.Spec, bool) {
	if len(pos) < 2 {
		return remote.Spec{}, false
	}
	return remote.Parse(pos[len(pos)-1])
}

// remoteSources reports whether recv's arguments begin with a remote
// [user@]HOST:PATH: the one-command pull. It returns the far paths (all
// of one login; an argument on another host, or a local one among them,
// leaves ok true with spec.Login "" for the caller to refuse) and the
// local DIR: the last argument if it is local, else dir (--dir).
func remoteSources(pos []string, dir string) (spec remote.Spec, paths []string, local string, ok bool) {
	if len(pos) == 0 {
		return remote.Spec{}, nil, "", false
	}
	first, ok := remote.Parse(pos[0])
	if !ok {
		return remote.Spec{}, nil, "", false
	}
	srcs, local := pos, dir
	if last := pos[len(pos)-1]; len(pos) >= 2 {
		if _, isRemote := remote.Parse(last); !isRemote {
			srcs, local = pos[:len(pos)-1], last
		}
	}
	for _, p := range srcs {
		s, isRemote := remote.Parse(p)
		if !isRemote || s.Login != first.Login {
			return remote.Spec{Login: ""}, nil, local, true
		}
		paths = append(paths, s.Path)
	}
	return first, paths, local, true
}
