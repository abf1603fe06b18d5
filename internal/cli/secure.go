package cli

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/zerocopy"
)

// secureFlags are how a framed transfer is protected: inside TLS by
// default or in the clear with --plaintext, and the token (--token, or
// $ZCOPY_TOKEN) that authenticates the peer.
type secureFlags struct {
	plaintext bool
	token     tokenFlag
}

// addSecureFlags defines --plaintext and --token on fs; peer names the
// other end ("the receiver", "senders") in --token's help.
func addSecureFlags(fs *flag.FlagSet, peer string) *secureFlags {
	f := &secureFlags{}
	fs.BoolVar(&f.plaintext, "plaintext", false, "framed mode: no encryption, so file bodies move by sendfile and splice (zero copy) and anyone on the path can read them; both ends need it")
	fs.Var(&f.token, "token", fmt.Sprintf("shared `SECRET` %s must also prove (default $ZCOPY_TOKEN; a listening end without one makes one and prints it; '' turns authentication off)", peer))
	return f
}

// checkMethod says why method m cannot serve a framed transfer under f, or
// "": inside TLS the bodies are encrypted in user space, so only auto and
// readwrite can carry them.
func (f *secureFlags) checkMethod(m zerocopy.Method) string {
	if f.plaintext || m == zerocopy.Auto || m == zerocopy.ReadWrite {
		return ""
	}
	return fmt.Sprintf("--method %v moves bodies in the clear: it needs --plaintext at both ends (encrypted transfers, the default, copy each body through user space to encrypt it, by readwrite)", m)
}

// apply sets o's Plaintext, Token and Certificate from f, for an end that
// listens or dials. A listening end makes one throwaway certificate for
// all its connections (unless plaintext), and if given no token at all,
// a token (made is true). A token the user chose that is weak gets a
// warning on stderr.
func (f *secureFlags) apply(e *env, c *command, o *session.Options, listening bool) (made bool, err error) {
	o.Plaintext = f.plaintext
	o.Token = f.token.get()
	if listening && !f.plaintext {
		cert, err := secure.NewCertificate()
		if err != nil {
			return false, err
		}
		o.Certificate = &cert
	}
	if listening && o.Token == "" && !f.token.set {
		o.Token = secure.NewToken()
		return true, nil
	}
	if o.Token == "" {
		if listening {
			fmt.Fprintf(e.stderr, "zcopy %s: warning: no token (--token ''): anyone who can reach this port can transfer, and a man in the middle goes unnoticed\n", c.name)
		}
		return false, nil
	}
	if w := secure.Weak(o.Token, f.plaintext); w != "" {
		fmt.Fprintf(e.stderr, "zcopy %s: warning: %s\n", c.name, w)
	}
	return false, nil
}

// announceToken prints the token a listening end made, and the command
// that the other end runs to reach it at addr: the token in the
// environment, where other users' ps cannot see it. peer is the command
// and its arguments before the address flag (such as "send --to"), and
// rest what follows the address (such as "PATH...").
func announceToken(e *env, c *command, token string, plaintext bool, addr net.Addr, peer, rest string) {
	plain := ""
	if plaintext {
		plain = " --plaintext"
	}
	verb, flag, _ := strings.Cut(peer, " ")
	fmt.Fprintf(e.stderr, "zcopy %s: token (made for this run; --token or $ZCOPY_TOKEN sets one): %s\n", c.name, token)
	fmt.Fprintf(e.stderr, "zcopy %s: on the other host run:\n    ZCOPY_TOKEN=%s zcopy %s%s %s %s %s\n", c.name, token, verb, plain, flag, reachable(addr), rest)
}

// reachable is how another host names addr: its host, or this host's name
// when it listens on every address.
func reachable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	return net.JoinHostPort(host, port)
}
