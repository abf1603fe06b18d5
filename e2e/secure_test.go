package e2e

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/testbin"
)

// The command line of protocol version 5 (issue 15): transfers inside TLS
// by default, --plaintext at both ends for zero copy, a token made by a
// listening end that has none, and warnings about weak tokens.

// announced waits (a hang guard) until the listening zcopy p has printed
// the token it made and the other end's command, and returns the token and
// that command's words after "zcopy". It fails the test unless the two
// tokens printed agree and the command names addr, the address p listens
// on.
func announced(t *testing.T, p *proc, addr string) (token string, words []string) {
	t.Helper()
	tokenRE := regexp.MustCompile(`token \(made for this run[^)]*\): (\S+)\n`)
	cmdRE := regexp.MustCompile(`\n    ZCOPY_TOKEN=(\S+) zcopy ([^\n]*)\n`)
	var tm, cm []string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		log := p.Log()
		tm, cm = tokenRE.FindStringSubmatch(log), cmdRE.FindStringSubmatch(log)
		if tm != nil && cm != nil {
			break
		}
		if time.Now().After(deadline) || !p.Running() {
			t.Fatalf("no token and command printed by %v; stderr:\n%s", p.Cmd.Args[1:], log)
		}
	}
	if tm[1] != cm[1] {
		t.Errorf("the token printed (%s) is not the one in the command (%s)", tm[1], cm[1])
	}
	if bits := secure.Strength(tm[1]); bits < secure.MinTokenBits {
		t.Errorf("the token made, %q, is weak (%.0f bits)", tm[1], bits)
	}
	words = strings.Fields(cm[2])
	if !strings.Contains(cm[2], " "+addr+" ") {
		t.Errorf("the command printed, %q, does not name %s", cm[2], addr)
	}
	return tm[1], words
}

// printed returns a command that runs the words a listening end printed
// for the other end, with the token it printed in the environment (and
// not the suite's), and each word in place replaced by its value.
func printed(token string, words []string, place map[string]string) *exec.Cmd {
	args := make([]string, len(words))
	for i, w := range words {
		if v, ok := place[w]; ok {
			w = v
		}
		args[i] = w
	}
	cmd := withoutToken(exec.Command(zcopyBin, args...))
	cmd.Env = append(cmd.Env, "ZCOPY_TOKEN="+token)
	return cmd
}

// TestTokenMadeByListener guards the listening end without a token: zcopy
// recv --listen or send --listen, given no --token and no $ZCOPY_TOKEN,
// makes a strong token and prints it with the command the other end runs
// (the token in its environment). That command, run as printed (the
// binary's path for "zcopy", a file for PATH..., a directory for DIR),
// completes the transfer. A dialing end without the token is refused,
// saying so, and nothing arrives. In both modes: in plaintext the printed
// command says --plaintext too.
func TestTokenMadeByListener(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			base := t.TempDir()
			src, data := randomFile(t, base, "f.bin", 100<<10)

			t.Run("recv-listen", func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "dst")
				r := testbin.Start(t, withoutToken(exec.Command(zcopyBin, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)))
				addr := r.Addr(t)
				token, words := announced(t, r, addr)
				want := m.args("send", "--to", addr, "PATH...")
				if strings.Join(words, " ") != strings.Join(want, " ") {
					t.Errorf("the command printed is zcopy %q; want zcopy %q", words, want)
				}
				code, _, serr, err := testbin.Run(printed(token, words, map[string]string{"PATH...": src}))
				if err != nil || code != 0 {
					t.Fatalf("the printed command: exit %d %v: %s", code, err, serr)
				}
				if code, rerr := r.Wait(t); code != 0 {
					t.Fatalf("recv: exit %d: %s", code, rerr)
				}
				sameFile(t, filepath.Join(dst, "f.bin"), data)
			})

			t.Run("send-listen", func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "dst")
				s := testbin.Start(t, withoutToken(exec.Command(zcopyBin, m.args("send", "--listen", "127.0.0.1:0", src)...)))
				addr := s.Addr(t)
				token, words := announced(t, s, addr)
				want := m.args("recv", "--from", addr, "--dir", "DIR")
				if strings.Join(words, " ") != strings.Join(want, " ") {
					t.Errorf("the command printed is zcopy %q; want zcopy %q", words, want)
				}
				code, _, rerr, err := testbin.Run(printed(token, words, map[string]string{"DIR": dst}))
				if err != nil || code != 0 {
					t.Fatalf("the printed command: exit %d %v: %s", code, err, rerr)
				}
				if code, serr := s.Wait(t); code != 0 {
					t.Fatalf("send: exit %d: %s", code, serr)
				}
				sameFile(t, filepath.Join(dst, "f.bin"), data)
			})

			t.Run("sender-without-it", func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "dst")
				r := testbin.Start(t, withoutToken(exec.Command(zcopyBin, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)))
				addr := r.Addr(t)
				announced(t, r, addr)
				code, _, serr, err := testbin.Run(withoutToken(exec.Command(zcopyBin, m.args("send", "--to", addr, src)...)))
				if err != nil {
					t.Fatal(err)
				}
				rerr := strayLogged(t, r) // it waits for another peer (issue 18)
				t.Logf("sender: exit %d: %s", code, strings.TrimSpace(serr))
				if code != 1 || !strings.Contains(serr, "token") {
					t.Errorf("a sender without the token exited %d: %q; want 1 and a message about the token", code, serr)
				}
				if !strings.Contains(rerr, "token") {
					t.Errorf("the receiver said %q; want a message about the token", rerr)
				}
				if ents, _ := os.ReadDir(dst); len(ents) != 0 {
					t.Errorf("the receiver wrote %d entries under DIR for a sender without the token", len(ents))
				}
			})
		})
	}
}

// TestWeakTokenWarning guards the warning about a weak token: --token
// s3cret makes both ends (the listening one and the dialing one) warn that
// it is weak, and the transfer still goes through; a token of NewToken's
// shape, or 20 random letters and digits, makes no warning. In both modes.
func TestWeakTokenWarning(t *testing.T) {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	random := make([]byte, 20)
	for i := range random {
		random[i] = alnum[rand.IntN(len(alnum))]
	}
	dir := t.TempDir()
	src, data := randomFile(t, dir, "f.bin", 4096)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, token string
				weak        bool
			}{
				{"s3cret", "s3cret", true},
				{"new-token", secure.NewToken(), false},
				{"random-20", string(random), false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					dst := filepath.Join(t.TempDir(), "dst")
					r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--token", tc.token)...)
					code, _, serr := run(t, m.args("send", "--to", r.Addr(t), "--token", tc.token, src)...)
					rcode, rerr := r.Wait(t)
					if code != 0 || rcode != 0 {
						t.Fatalf("send exit %d: %s; recv exit %d: %s", code, serr, rcode, rerr)
					}
					sameFile(t, filepath.Join(dst, "f.bin"), data)
					for end, stderr := range map[string]string{"send --to": serr, "recv --listen": rerr} {
						if warned := strings.Contains(stderr, "weak"); warned != tc.weak {
							t.Errorf("%s with the token %q: warned %v, want %v; stderr:\n%s", end, tc.token, warned, tc.weak, stderr)
						}
					}
				})
			}
		})
	}
}

// TestPlaintextMismatch guards the two ends that disagree on encryption,
// one with --plaintext and the other without, whichever listens and
// whichever sends: both say at once "encryption mismatch", naming
// --plaintext; the dialer exits 1 and the one-shot listener waits for
// another peer (issue 18); nothing is written under DIR. Their header
// timeout is ten minutes, so an end that waited for it instead would be
// caught by the hang guard (testbin.HangGuard), not pass slowly.
func TestPlaintextMismatch(t *testing.T) {
	src, _ := randomFile(t, t.TempDir(), "f.bin", 4096)
	long := []string{"--header-timeout", "10m"}
	for _, way := range []string{"push", "pull"} {
		for _, plainListener := range []bool{true, false} {
			name := way + "/listener-plaintext"
			if !plainListener {
				name = way + "/dialer-plaintext"
			}
			t.Run(name, func(t *testing.T) {
				lm, dm := modes[0], modes[1]
				if plainListener {
					lm, dm = dm, lm
				}
				dst := filepath.Join(t.TempDir(), "dst")
				var listener *proc
				var dialer []string
				if way == "push" {
					listener = start(t, lm.args("recv", append([]string{"--listen", "127.0.0.1:0", "--dir", dst}, long...)...)...)
					dialer = dm.args("send", append([]string{"--to", listener.Addr(t), src}, long...)...)
				} else {
					listener = start(t, lm.args("send", append([]string{"--listen", "127.0.0.1:0", src}, long...)...)...)
					dialer = dm.args("recv", append([]string{"--from", listener.Addr(t), "--dir", dst}, long...)...)
				}
				code, _, derr := run(t, dialer...)
				// The one-shot listener logs the peer and waits for
				// another (issue 18): it is stopped by the test.
				lerr := strayLogged(t, listener)
				t.Logf("dialer (%s): exit %d: %s", dm.name, code, strings.TrimSpace(derr))
				t.Logf("listener (%s): %s", lm.name, strings.TrimSpace(lerr))
				if code != 1 {
					t.Errorf("the dialer exited %d, want 1", code)
				}
				for end, stderr := range map[string]string{"the dialer": derr, "the listener": lerr} {
					if !strings.Contains(stderr, "encryption mismatch") || !strings.Contains(stderr, "--plaintext") {
						t.Errorf("%s said %q; want \"encryption mismatch\" and --plaintext", end, stderr)
					}
				}
				if ents, _ := os.ReadDir(dst); len(ents) != 0 {
					t.Errorf("%d entries were written under DIR", len(ents))
				}
			})
		}
	}
}

// TestMethodNeedsPlaintext guards the methods that move bodies in the
// clear: inside TLS (without --plaintext) send --method sendfile, splice
// or mmap, and recv --method splice, are usage errors (exit 2) that name
// --plaintext, before any connection is made (a listener of the test's
// own gets none) and before any listening. With --plaintext the same
// command does connect.
func TestMethodNeedsPlaintext(t *testing.T) {
	src, _ := randomFile(t, t.TempDir(), "f.bin", 4096)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	dst := filepath.Join(t.TempDir(), "dst")
	// connected reports whether a connection came to ln within wait: the
	// command has exited, so one it made is in the listen queue already.
	// Accept fails at once if the deadline has passed when it starts, so
	// a check that must find a connection waits long (a stall there
	// cannot fail it); one that must find none may wait briefly.
	connected := func(wait time.Duration) bool {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(wait))
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	for _, args := range [][]string{
		{"send", "--method", "sendfile", "--to", addr, src},
		{"send", "--method", "splice", "--to", addr, src},
		{"send", "--method", "mmap", "--to", addr, src},
		{"recv", "--method", "splice", "--from", addr, "--dir", dst},
		{"send", "--method", "sendfile", "--listen", "127.0.0.1:0", src},
		{"recv", "--method", "splice", "--listen", "127.0.0.1:0", "--dir", dst},
	} {
		t.Run(args[0]+"-"+args[2]+"-"+strings.TrimPrefix(args[3], "--"), func(t *testing.T) {
			code, _, stderr := run(t, args...)
			if code != 2 || !strings.Contains(stderr, "--plaintext") {
				t.Errorf("zcopy %q: exit %d: %q; want 2 (usage) and a message naming --plaintext", args, code, stderr)
			}
			if strings.Contains(stderr, "listening") {
				t.Errorf("zcopy %q listened before refusing its method: %q", args, stderr)
			}
			if connected(100 * time.Millisecond) {
				t.Errorf("zcopy %q connected before refusing its method", args)
			}
		})
	}
	t.Run("with-plaintext", func(t *testing.T) {
		code, _, stderr := run(t, "send", "--plaintext", "--method", "sendfile", "--header-timeout", "1s", "--to", addr, src)
		if code == 2 {
			t.Errorf("send --plaintext --method sendfile is a usage error: %q", stderr)
		}
		if !connected(30 * time.Second) {
			t.Errorf("send --plaintext --method sendfile did not connect (exit %d: %q)", code, stderr)
		}
	})
}
