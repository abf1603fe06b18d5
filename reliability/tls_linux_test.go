package reliability

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/testbin"
)

// The acceptance tests of encrypted transfers (issue 15): framed sessions
// run inside TLS 1.3, the accepting end presents a throwaway certificate
// that the client never checks, and both ends prove the token over the TLS
// session's exporter value (secure.Binding), the client first
// (docs/PROTOCOL.md, section 1). Every hostile peer here is written by hand
// on crypto/tls; none knows the honest ends' token unless it says so. Each
// process is given its token on its command line (--token), whatever
// $ZCOPY_TOKEN holds.

// Messages of session/auth.go: the end that checks a proof and finds it
// wrong, and the end whose proof was refused.
const (
	proofWrong   = "authentication failed: the peer's proof does not match our token"
	proofRefused = "authentication failed: the peer refused our token"
)

// tlsFile is the file each test moves: base/tlsFile at the sender,
// DIR/tlsFile at the receiver.
const tlsFile = "src.bin"

// tlsWays are the two directions of a transfer. In push the dialing end
// sends (zcopy send --to) to a zcopy recv --listen; in pull it receives
// (zcopy recv --from) from a zcopy send --listen. The dialing end is the
// TLS client, and proves the token first, either way.
var tlsWays = []struct {
	name string
	push bool
}{{"push", true}, {"pull", false}}

// listening starts the listening end of a transfer under base: in push
// zcopy recv --listen into base/dst, in pull zcopy send --listen of
// base/tlsFile; with token, and --header-timeout 10m (a handshake that
// hangs is caught by the test's hang guard, not passed by a timeout).
func listening(t *testing.T, push bool, base, token string, args ...string) *proc {
	t.Helper()
	a := []string{"send", "--listen", "127.0.0.1:0"}
	if push {
		a = []string{"recv", "--listen", "127.0.0.1:0", "--dir", filepath.Join(base, "dst")}
	}
	a = append(a, "--token", token, "--header-timeout", "10m")
	a = append(a, args...)
	if !push {
		a = append(a, filepath.Join(base, tlsFile))
	}
	return start(t, a...)
}

// dialing returns the command line of the end that dials addr: in push
// zcopy send --to addr base/tlsFile, in pull zcopy recv --from addr into
// dst.
func dialing(push bool, addr, base, dst, token string, args ...string) []string {
	if push {
		a := append([]string{"send", "--to", addr, "--token", token, "--header-timeout", "10m"}, args...)
		return append(a, filepath.Join(base, tlsFile))
	}
	return append([]string{"recv", "--from", addr, "--dir", dst, "--token", token, "--header-timeout", "10m"}, args...)
}

// receivedAt returns the directory the receiver of a transfer under base
// writes to: the listening receiver's in push, the dialing one's in pull.
func receivedAt(base string) string { return filepath.Join(base, "dst") }

// untouched checks that dir holds nothing but the entries named in keep:
// no other file (tlsFile least of all), no part file, no directory. A
// directory that does not exist is untouched.
func untouched(t *testing.T, dir string, keep ...string) {
	t.Helper()
	if !slices.Contains(keep, tlsFile) {
		absent(t, filepath.Join(dir, tlsFile))
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != tlsFile && !slices.Contains(keep, e.Name()) {
			absent(t, filepath.Join(dir, e.Name()))
		}
	}
}

// honest runs an honest transfer with token (and args) through addr, push
// or pull, of base/tlsFile, and checks that it completed and that the file arrived whole in dst.
func honest(t *testing.T, push bool, addr, base, dst, token string, args ...string) {
	t.Helper()
	code, _, serr := run(t, dialing(push, addr, base, dst, token, args...)...)
	if code != 0 {
		t.Errorf("an honest transfer (%s) through %s: exit %d:\n%s", map[bool]string{true: "push", false: "pull"}[push], addr, code, serr)
		return
	}
	if arrivedAs(t, filepath.Join(dst, tlsFile), filepath.Join(base, tlsFile)) {
		figs.transfer(1)
	}
}

// served waits until the --keep server p has logged how the session of
// peer (the server's view of the client's address) ended, and checks that
// it failed saying want, with no line that it sent or received anything.
func served(t *testing.T, p *proc, peer, want string) {
	t.Helper()
	var lines string
	if !eventually(testbin.HangGuard, func() bool {
		lines = peerLines(p.Log(), peer)
		return lines != ""
	}) {
		t.Fatalf("the server said nothing about %s; its log:\n%s", peer, p.Log())
	}
	if !strings.Contains(lines, want) {
		t.Errorf("the server said nothing with %q about %s; it said:\n%s", want, peer, lines)
	}
	for _, done := range []string{peer + ": received ", peer + ": sent "} {
		if strings.Contains(lines, done) {
			t.Errorf("the server completed a session with %s:\n%s", peer, lines)
		}
	}
	t.Logf("the server, about %s: %s", peer, lines)
}

// tlsClientConfig is a hand-written peer's TLS: 1.3, zcopy's ALPN, and any
// certificate, as zcopy's own client.
func tlsClientConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, NextProtos: []string{secure.ALPN}}
}

// proof is a token's proof as docs/PROTOCOL.md (section 1) defines it,
// for a middleman that knows the token: HMAC-SHA256(token, "zcopy-auth-v2"
// | role | position | client nonce | server nonce | binding as a string).
func proof(token string, role proto.Role, client bool, cn, sn [16]byte, binding []byte) []byte {
	pos := byte(2)
	if client {
		pos = 1
	}
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("zcopy-auth-v2"))
	m.Write([]byte{byte(role), pos})
	m.Write(cn[:])
	m.Write(sn[:])
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(binding))))
	m.Write(binding)
	return m.Sum(nil)
}

// capture records what a relay passed one way: the first 64 KiB of it,
// and how much in all.
type capture struct {
	b []byte
	n int64
}

func (c *capture) Write(p []byte) (int, error) {
	if room := 64<<10 - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(len(p), room)]...)
	}
	c.n += int64(len(p))
	return len(p), nil
}

// mitm is a man in the middle who terminates TLS: it accepts a client's
// TLS with a certificate of its own (testbin.SelfSigned, an ECDSA key
// where zcopy's is Ed25519), opens its own TLS to target, as zcopy's client
// would, and passes the plaintext of one session into the other, both
// ways. Without the token (token "") it passes every byte unchanged. With
// it, it replaces each end's proof by one it makes for the other session
// (rewrite): the middleman that the binding cannot stop, which shows that
// nothing else in the relay keeps a session from completing.
type mitm struct {
	ln     net.Listener
	target string
	cert   tls.Certificate
	token  string
	ended  chan *mitmSession // each connection's, when it ends

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// mitmSession is what the middleman saw of one connection.
type mitmSession struct {
	err      error     // where it gave up before relaying, or nil
	alpn     [2]string // the protocols negotiated with the client and with the server
	up, down capture   // plaintext passed client to server, server to client
}

// newMITM starts a middleman in front of target; it is stopped, and its
// connections closed, at the end of the test.
func newMITM(t *testing.T, target, token string) *mitm {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert, _, _ := testbin.SelfSigned(t)
	m := &mitm{ln: ln, target: target, cert: cert, token: token, ended: make(chan *mitmSession, 16)}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m.track(c)
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				m.ended <- m.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		m.mu.Lock()
		for _, c := range m.conns {
			c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return m
}

func (m *mitm) addr() string { return m.ln.Addr().String() }

func (m *mitm) track(c net.Conn) {
	m.mu.Lock()
	m.conns = append(m.conns, c)
	m.mu.Unlock()
}

// session waits for the next connection through the middleman to end
// (a hang guard) and returns what it saw.
func (m *mitm) session(t *testing.T) *mitmSession {
	t.Helper()
	select {
	case s := <-m.ended:
		return s
	case <-time.After(testbin.HangGuard):
		t.Fatal("no connection through the man in the middle ended")
	}
	return nil
}

// serve is the middleman's part in one connection.
func (m *mitm) serve(c net.Conn) *mitmSession {
	s := &mitmSession{}
	defer c.Close()
	deadline := time.Now().Add(testbin.HangGuard)
	c.SetDeadline(deadline)
	tc := tls.Server(c, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{m.cert}, NextProtos: []string{secure.ALPN}})
	if err := tc.Handshake(); err != nil {
		s.err = fmt.Errorf("TLS with the client: %w", err)
		return s
	}
	u, err := net.DialTimeout("tcp", m.target, 10*time.Second)
	if err != nil {
		s.err = err
		return s
	}
	m.track(u)
	defer u.Close()
	u.SetDeadline(deadline)
	ts := tls.Client(u, tlsClientConfig())
	if err := ts.Handshake(); err != nil {
		s.err = fmt.Errorf("TLS with the server: %w", err)
		return s
	}
	s.alpn = [2]string{tc.ConnectionState().NegotiatedProtocol, ts.ConnectionState().NegotiatedProtocol}
	cr, sr := bufio.NewReader(tc), bufio.NewReader(ts)
	if m.token != "" {
		if err := m.rewrite(s, tc, ts, cr, sr); err != nil {
			s.err = err
			return s
		}
	}
	var wg sync.WaitGroup
	pass := func(dst *tls.Conn, src *bufio.Reader, seen *capture) {
		defer wg.Done()
		if _, err := src.WriteTo(io.MultiWriter(dst, seen)); err != nil {
			tc.Close()
			ts.Close()
			return
		}
		dst.CloseWrite() // close_notify: the end of this direction
	}
	wg.Add(2)
	go pass(ts, cr, &s.up)
	go pass(tc, sr, &s.down)
	wg.Wait()
	tc.Close()
	ts.Close()
	return s
}

// rewrite passes the handshake of a session between the client (tc) and
// the server (ts) with each end's proof replaced by the one the other end
// expects over its own TLS session: the Hellos, then the client's verdict
// and proof, then the server's two verdicts and proof. The client's last
// verdict, and everything after it, pass unchanged.
func (m *mitm) rewrite(s *mitmSession, tc, ts *tls.Conn, cr, sr *bufio.Reader) error {
	cb, err := secure.Binding(tc.ConnectionState())
	if err != nil {
		return err
	}
	sb, err := secure.Binding(ts.ConnectionState())
	if err != nil {
		return err
	}
	ch, err := proto.ReadHello(cr)
	if err != nil {
		return fmt.Errorf("the client's Hello: %w", err)
	}
	sh, err := proto.ReadHello(sr)
	if err != nil {
		return fmt.Errorf("the server's Hello: %w", err)
	}
	send := func(w io.Writer, seen *capture, b []byte) error {
		seen.Write(b)
		_, err := w.Write(b)
		return err
	}
	if err := errors.Join(send(ts, &s.up, ch.Append(nil)), send(tc, &s.down, sh.Append(nil))); err != nil {
		return err
	}
	v, err := proto.ReadVerdict(cr)
	if err != nil || !v.OK {
		return fmt.Errorf("the client's verdict: %+v, %v", v, err)
	}
	if _, err := io.ReadFull(cr, make([]byte, proto.ProofSize)); err != nil {
		return fmt.Errorf("the client's proof: %w", err)
	}
	if err := send(ts, &s.up, cat(v.Append(nil), proof(m.token, ch.Role, true, ch.Nonce, sh.Nonce, sb))); err != nil {
		return err
	}
	v1, err1 := proto.ReadVerdict(sr)
	v2, err2 := proto.ReadVerdict(sr)
	if err := errors.Join(err1, err2); err != nil || !v1.OK || !v2.OK {
		return fmt.Errorf("the server's verdicts: %+v, %+v, %v", v1, v2, err)
	}
	if _, err := io.ReadFull(sr, make([]byte, proto.ProofSize)); err != nil {
		return fmt.Errorf("the server's proof: %w", err)
	}
	return send(tc, &s.down, cat(v1.Append(nil), v2.Append(nil), proof(m.token, sh.Role, false, ch.Nonce, sh.Nonce, cb)))
}

// TestTLSManInTheMiddle is the attack the TLS binding exists for: a
// middleman who terminates TLS towards each end, with a certificate of its
// own (the client accepts any), and passes the plaintext between the two
// sessions without knowing the token. Without the binding both ends'
// proofs would pass, since they cover nothing the middleman changes, and
// the transfer would complete through it, every byte in its hands. With
// it the client's proof, made over its session with the middleman, does
// not match at the server, which refuses it and proves nothing in return:
// both zcopy processes fail with the token's messages, the server's side
// of the plaintext is exactly its Hello and two verdicts (no proof, no
// data), and nothing is written. The controls run the same way: through a
// TCP relay that passes the TLS bytes unchanged the transfer completes,
// and so it does through the same middleman given the token, which
// rewrites each proof for the session it goes into, so the relay itself
// loses nothing and only the binding stops it.
func TestTLSManInTheMiddle(t *testing.T) {
	for _, way := range tlsWays {
		t.Run(way.name, func(t *testing.T) {
			t.Parallel()
			token := secure.NewToken()
			okVerdict := (&proto.Verdict{OK: true}).Append(nil)
			refusal := (&proto.Verdict{Message: "wrong token"}).Append(nil)
			for try := range 3 * rounds() {
				base := t.TempDir()
				writeRandom(t, filepath.Join(base, tlsFile), 256<<10)
				srv := listening(t, way.push, base, token)
				m := newMITM(t, srv.Addr(t), "")
				figs.hostile("TLS man in the middle (own certificate, no token)", 1)
				code, _, cerr := run(t, dialing(way.push, m.addr(), base, receivedAt(base), token)...)
				scode, slog := srv.stopWaiting(t)
				s := m.session(t)
				if s.err != nil {
					t.Fatalf("try %d: the man in the middle gave up before relaying (the test is broken): %v", try, s.err)
				}
				if s.alpn != [2]string{secure.ALPN, secure.ALPN} {
					t.Errorf("try %d: the middleman's sessions negotiated %q; want %q with both ends", try, s.alpn, secure.ALPN)
				}
				if code == 0 || !strings.Contains(cerr, proofRefused) {
					t.Errorf("try %d: the client, through the middleman: exit %d; want non-zero with %q:\n%s", try, code, proofRefused, cerr)
				}
				if scode == 0 || !strings.Contains(slog, proofWrong) {
					t.Errorf("try %d: the server, behind the middleman: exit %d; want non-zero with %q:\n%s", try, scode, proofWrong, slog)
				}
				// What the middleman passed: the client's Hello, its
				// verdict and its proof; the server's Hello, its verdict
				// on the client's Hello and its refusal of the proof.
				// Anything more from the server is a proof made for a
				// peer that has not proven the token, or data.
				if up := s.up.b; len(up) != proto.HelloSize+len(okVerdict)+proto.ProofSize || !bytes.Equal(up[proto.HelloSize:proto.HelloSize+len(okVerdict)], okVerdict) {
					t.Errorf("try %d: the client wrote %d bytes of plaintext (%x); want its Hello, an accepting verdict and a proof (%d bytes)", try, s.up.n, up, proto.HelloSize+len(okVerdict)+proto.ProofSize)
				}
				if down := s.down.b; len(down) < proto.HelloSize || !bytes.Equal(down[proto.HelloSize:], cat(okVerdict, refusal)) || s.down.n != int64(len(down)) {
					t.Errorf("try %d: the server wrote %d bytes of plaintext (%x); want its Hello, then only %x (accepting the Hello, refusing the proof)", try, s.down.n, down, cat(okVerdict, refusal))
				}
				untouched(t, receivedAt(base))
			}
			// The controls: the same transfer through a TCP relay, then
			// through the middleman who knows the token.
			base := t.TempDir()
			writeRandom(t, filepath.Join(base, tlsFile), 256<<10)
			dir := testbin.Push
			if !way.push {
				dir = testbin.Pull
			}
			srv := listening(t, way.push, base, token)
			honest(t, way.push, testbin.NewRelay(t, srv.Addr(t), dir).Addr(), base, receivedAt(base), token)
			if code, log := srv.Wait(t); code != 0 {
				t.Errorf("the server, behind a TCP relay: exit %d:\n%s", code, log)
			}
			base = t.TempDir()
			writeRandom(t, filepath.Join(base, tlsFile), 256<<10)
			srv = listening(t, way.push, base, token)
			m := newMITM(t, srv.Addr(t), token)
			honest(t, way.push, m.addr(), base, receivedAt(base), token)
			if code, log := srv.Wait(t); code != 0 {
				t.Errorf("the server, behind the middleman that knows the token: exit %d:\n%s", code, log)
			}
			s := m.session(t)
			data := s.up.n
			if !way.push {
				data = s.down.n
			}
			if s.err != nil || data < 256<<10 {
				t.Errorf("the middleman that knows the token relayed %d bytes client to server and %d back (%v); want the whole file (256 KiB) in the data direction", s.up.n, s.down.n, s.err)
			}
		})
	}
}

// TestTLSWrongToken checks that inside TLS the token still keeps out a
// peer that does not know it: a client with another token than the
// server, push and pull, fails with "the peer refused our token", the
// server with "the peer's proof does not match our token", both exit
// non-zero, and nothing is written. The same two ends with the same token
// complete the transfer (the control). And a hand-written TLS client
// whose proof is made with a wrong token over the right binding gets
// nothing back after the server's Hello but its two verdicts (accepting
// the Hello, refusing the proof): no listening end proves the token to a
// peer that has not, inside TLS as in the clear.
func TestTLSWrongToken(t *testing.T) {
	for _, way := range tlsWays {
		t.Run(way.name, func(t *testing.T) {
			t.Parallel()
			for range rounds() {
				base := t.TempDir()
				writeRandom(t, filepath.Join(base, tlsFile), 256<<10)
				token, other := secure.NewToken(), secure.NewToken()
				srv := listening(t, way.push, base, token)
				figs.hostile("TLS client with a wrong token", 1)
				code, _, cerr := run(t, dialing(way.push, srv.Addr(t), base, receivedAt(base), other)...)
				scode, slog := srv.stopWaiting(t)
				if code == 0 || !strings.Contains(cerr, proofRefused) {
					t.Errorf("the client with a wrong token: exit %d; want non-zero with %q:\n%s", code, proofRefused, cerr)
				}
				if scode == 0 || !strings.Contains(slog, proofWrong) {
					t.Errorf("the server: exit %d; want non-zero with %q:\n%s", scode, proofWrong, slog)
				}
				untouched(t, receivedAt(base))

				srv = listening(t, way.push, base, token)
				honest(t, way.push, srv.Addr(t), base, receivedAt(base), token)
				if code, log := srv.Wait(t); code != 0 {
					t.Errorf("the server, for a client with the token: exit %d:\n%s", code, log)
				}

				base = t.TempDir()
				writeRandom(t, filepath.Join(base, tlsFile), 4096)
				srv = listening(t, way.push, base, token, "--keep")
				figs.hostile("TLS client proving a wrong token by hand", 1)
				local, reply := guessProof(t, srv.Addr(t), way.push, other)
				want := cat((&proto.Verdict{OK: true}).Append(nil), (&proto.Verdict{Message: "wrong token"}).Append(nil))
				if !bytes.Equal(reply, want) {
					t.Errorf("after its Hello the server wrote %x; want only its two verdicts %x (anything more is a proof for a stranger, or data)", reply, want)
				}
				served(t, srv, local, proofWrong)
				untouched(t, receivedAt(base))
				honest(t, way.push, srv.Addr(t), base, receivedAt(base), token)
				srv.stop(t)
			}
		})
	}
}

// guessProof is a hand-written client that speaks TLS to a zcopy server at
// addr and proves token (not the server's) over the session's binding, as
// a sender in push and a receiver in pull. It checks the server's Hello
// and returns its own address and all the server wrote after that Hello.
func guessProof(t *testing.T, addr string, push bool, token string) (local string, reply []byte) {
	t.Helper()
	tc, local, br, sh := tlsHello(t, addr, push)
	defer tc.Close()
	role := proto.RoleReceiver
	if push {
		role = proto.RoleSender
	}
	b, err := secure.Binding(tc.ConnectionState())
	if err != nil {
		t.Fatal(err)
	}
	h := proto.Hello{Version: proto.Version, Role: role, Flags: proto.FlagTLS | proto.FlagAuth}
	rand.Read(h.Nonce[:])
	if _, err := tc.Write(cat(h.Append(nil), (&proto.Verdict{OK: true}).Append(nil), proof(token, role, true, h.Nonce, sh.Nonce, b))); err != nil {
		t.Fatalf("writing the Hello and the proof: %v", err)
	}
	tc.CloseWrite() // a server that took the proof waits for no verdict of ours
	reply, err = io.ReadAll(br)
	if err != nil {
		t.Logf("reading the server's reply: %v", err)
	}
	return local, reply
}

// tlsHello opens a TLS session with the zcopy server at addr (push: a
// receiver, pull: a sender), as zcopy's client would, and reads the
// server's Hello, which must be its own inside TLS. It returns the
// connection, the client's address, the reader after that Hello and the
// Hello.
func tlsHello(t *testing.T, addr string, push bool) (tc *tls.Conn, local string, br *bufio.Reader, h proto.Hello) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testbin.HangGuard))
	tc = tls.Client(c, tlsClientConfig())
	if err := tc.Handshake(); err != nil {
		c.Close()
		t.Fatalf("the TLS handshake with the server: %v", err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != secure.ALPN {
		t.Errorf("the TLS session negotiated %q; want %q", p, secure.ALPN)
	}
	br = bufio.NewReader(tc)
	h, err = proto.ReadHello(br)
	if err != nil {
		tc.Close()
		t.Fatalf("the server's Hello inside TLS: %v", err)
	}
	want := proto.RoleSender
	if push {
		want = proto.RoleReceiver
	}
	if h.Version != proto.Version || h.Role != want || h.Flags&proto.FlagTLS == 0 {
		t.Errorf("the server's Hello inside TLS: %+v; want version %d, role %v, flag TLS", h, proto.Version, want)
	}
	return tc, c.LocalAddr().String(), br, h
}

// recordOne relays the first connection to the address it returns to
// target, and records every byte the client sends on it; sent waits for
// that connection to end (a hang guard) and returns them.
func recordOne(t *testing.T, target string) (addr string, sent func() []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte, 1)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			done <- nil
			return
		}
		u, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			done <- nil
			return
		}
		mu.Lock()
		conns = append(conns, c, u)
		mu.Unlock()
		deadline := time.Now().Add(testbin.HangGuard)
		c.SetDeadline(deadline)
		u.SetDeadline(deadline)
		var rec bytes.Buffer
		var wg sync.WaitGroup
		pass := func(dst, src net.Conn, tee io.Writer) {
			defer wg.Done()
			if _, err := io.Copy(io.MultiWriter(dst, tee), src); err != nil {
				c.Close()
				u.Close()
				return
			}
			dst.(*net.TCPConn).CloseWrite()
		}
		wg.Add(2)
		go pass(u, c, &rec)
		go pass(c, u, io.Discard)
		wg.Wait()
		c.Close()
		u.Close()
		done <- rec.Bytes()
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String(), func() []byte {
		t.Helper()
		select {
		case b := <-done:
			return b
		case <-time.After(testbin.HangGuard):
			t.Fatal("the recorded connection did not end")
		}
		return nil
	}
}

// replay opens a connection to addr, writes stream on it whole and closes
// its side, and reads what comes back until the server closes (or a hang
// guard). It returns its address and the reply.
func replay(t *testing.T, addr string, stream []byte) (local string, reply []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testbin.HangGuard))
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(stream)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	reply, err = io.ReadAll(c)
	if err != nil {
		t.Logf("reading the reply to the replay: %v", err)
	}
	if err := <-wrote; err != nil {
		t.Logf("replaying (the server may close first): %v", err)
	}
	return c.LocalAddr().String(), reply
}

// TestTLSReplayedHandshake records every byte an honest client sends in a
// session that completes, and sends them verbatim, on a new connection,
// to the same server (still running, with --keep) and to a fresh one
// with the same token: a session that completed once must not complete
// again for someone who only saw it. Inside TLS the server's fresh key
// share makes the replayed client's Finished fail, and the server logs a
// TLS error for that connection. In --plaintext the replayed proof was
// made over another server nonce and fails as "the peer's proof does not
// match our token": were the server's nonce not in the proof, the replay
// would write the file again (push) or fetch it in the clear (pull).
// Nothing is written or sent for a replay, and both servers serve an
// honest client afterwards and stop cleanly.
func TestTLSReplayedHandshake(t *testing.T) {
	okVerdict := (&proto.Verdict{OK: true}).Append(nil)
	refusal := (&proto.Verdict{Message: "wrong token"}).Append(nil)
	for _, mode := range []struct {
		name string
		args []string
		want string // what the server says about the replay
		kind string
	}{
		{"tls", nil, "handshake: TLS: ", "TLS session replayed byte for byte"},
		{"plaintext", []string{"--plaintext"}, proofWrong, "plaintext session replayed byte for byte"},
	} {
		for _, way := range tlsWays {
			t.Run(mode.name+"/"+way.name, func(t *testing.T) {
				t.Parallel()
				for range rounds() {
					token := secure.NewToken()
					keep := append([]string{"--keep"}, mode.args...)
					base := t.TempDir()
					writeRandom(t, filepath.Join(base, tlsFile), 256<<10)
					srv := listening(t, way.push, base, token, keep...)
					addr, sent := recordOne(t, srv.Addr(t))
					honest(t, way.push, addr, base, receivedAt(base), token, mode.args...)
					stream := sent()
					opens := []byte{22, 3} // a TLS handshake record: the ClientHello
					if mode.args != nil {
						opens = proto.HelloMagic[:]
					}
					if !bytes.HasPrefix(stream, opens) || way.push && len(stream) < 256<<10 {
						t.Fatalf("the recording (%d bytes) is not an honest client's whole session: it opens with %x", len(stream), stream[:min(len(stream), 8)])
					}
					if way.push {
						// Gone, so that a replay that got through
						// would write it again.
						if err := os.Remove(filepath.Join(receivedAt(base), tlsFile)); err != nil {
							t.Fatal(err)
						}
					}
					freshBase := t.TempDir()
					writeRandom(t, filepath.Join(freshBase, tlsFile), 64<<10)
					fresh := listening(t, way.push, freshBase, token, keep...)
					for _, target := range []struct {
						name string
						p    *proc
						base string
					}{{"the same server", srv, base}, {"a fresh server", fresh, freshBase}} {
						figs.hostile(mode.kind, 1)
						local, reply := replay(t, target.p.Addr(t), stream)
						served(t, target.p, local, mode.want)
						dst := receivedAt(target.base)
						if way.push {
							untouched(t, dst)
						} else {
							dst = filepath.Join(t.TempDir(), "fetched")
							if mode.args != nil {
								// In the clear the reply is readable:
								// at most the server's Hello and two
								// verdicts, never data.
								most := proto.HelloSize + len(okVerdict) + len(refusal)
								if len(reply) > most || bytes.Contains(reply, proto.DataMagic[:]) {
									t.Errorf("%s answered the replay with %d bytes (%x); want at most its Hello and two verdicts (%d bytes)", target.name, len(reply), reply[:min(len(reply), 256)], most)
								}
							}
						}
						honest(t, way.push, target.p.Addr(t), target.base, dst, token, mode.args...)
						target.p.stop(t)
					}
				}
			})
		}
	}
}

// TestTLSGarbageAfterHandshake completes a real TLS handshake with a
// zcopy recv --keep and a zcopy send --keep, as zcopy's client would (any
// certificate, zcopy's ALPN), and then breaks the protocol inside it:
// random bytes where the Hello goes, a well-formed Hello of the previous
// protocol version, or nothing at all before closing. Each time the server
// must write its own Hello and nothing more but, for the Hello it refuses,
// a verdict saying why; log a clear error for that connection; write
// nothing; and then serve an honest client. With --header-timeout 10m a
// server that waits instead of refusing is caught by the hang guard.
func TestTLSGarbageAfterHandshake(t *testing.T) {
	kinds := []struct {
		name, kind, want string
		// act breaks the protocol once the server's Hello is read.
		act func(t *testing.T, tc *tls.Conn, br *bufio.Reader, role proto.Role)
	}{
		{
			name: "garbage", kind: "TLS: random bytes after the handshake",
			want: "handshake: malformed record: not a zcopy peer (bad magic",
			act: func(t *testing.T, tc *tls.Conn, br *bufio.Reader, role proto.Role) {
				junk := make([]byte, 64<<10)
				rand.Read(junk)
				junk[0] = 'X' // never the magic
				if _, err := tc.Write(junk); err != nil {
					t.Logf("writing the garbage (the server may close first): %v", err)
				}
			},
		},
		{
			name: "old-version", kind: "TLS: Hello of an older protocol version",
			want: fmt.Sprintf("handshake refused: protocol version %d is not supported (this end speaks %d)", proto.Version-1, proto.Version),
			act: func(t *testing.T, tc *tls.Conn, br *bufio.Reader, role proto.Role) {
				h := proto.Hello{Version: proto.Version - 1, Role: role, Flags: proto.FlagTLS | proto.FlagAuth}
				rand.Read(h.Nonce[:])
				if _, err := tc.Write(h.Append(nil)); err != nil {
					t.Fatalf("writing the Hello: %v", err)
				}
				v, err := proto.ReadVerdict(br)
				if err != nil || v.OK || !strings.Contains(v.Message, fmt.Sprintf("protocol version %d is not supported", proto.Version-1)) {
					t.Errorf("the server's verdict on a Hello of version %d: %+v, %v; want a refusal that names the version", proto.Version-1, v, err)
				}
				tc.CloseWrite() // no verdict of ours
			},
		},
		{
			name: "silent", kind: "TLS: nothing after the handshake, then closed",
			want: "handshake: unexpected EOF",
			act: func(t *testing.T, tc *tls.Conn, br *bufio.Reader, role proto.Role) {
				tc.CloseWrite()
			},
		},
	}
	for _, way := range tlsWays {
		name, role := "recv-listen", proto.RoleSender
		if !way.push {
			name, role = "send-listen", proto.RoleReceiver
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for range rounds() {
				token := secure.NewToken()
				base := t.TempDir()
				writeRandom(t, filepath.Join(base, tlsFile), 64<<10)
				srv := listening(t, way.push, base, token, "--keep")
				for _, k := range kinds {
					figs.hostile(k.kind, 1)
					tc, local, br, _ := tlsHello(t, srv.Addr(t), way.push)
					k.act(t, tc, br, role)
					more, err := io.ReadAll(br)
					if len(more) > 0 {
						t.Errorf("%s: the server wrote %d bytes more (%x); want nothing", k.name, len(more), more[:min(len(more), 256)])
					}
					if err != nil {
						t.Logf("%s: reading to the end: %v", k.name, err)
					}
					tc.Close()
					served(t, srv, local, k.want)
					dst := receivedAt(base)
					if way.push {
						untouched(t, dst)
					} else {
						dst = filepath.Join(t.TempDir(), "fetched")
					}
					honest(t, way.push, srv.Addr(t), base, dst, token)
					if way.push {
						os.Remove(filepath.Join(dst, tlsFile)) // the next check is of an empty directory
					}
				}
				srv.stop(t)
			}
		})
	}
}
