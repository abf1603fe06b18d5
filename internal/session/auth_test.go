package session

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
)

// tapConn records what an end writes.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *tapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *tapConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

// shake runs the handshake at both ends of a TCP connection, the client
// (Dialed set) in role client and the server in the other, and returns
// what the server wrote and each end's error.
func shake(t *testing.T, role proto.Role, client, server Options) (sout []byte, cerr, serr error) {
	t.Helper()
	cc, sc := tcpPair(t)
	ct, st := &tapConn{Conn: cc}, &tapConn{Conn: sc}
	client.Dialed = true
	client.Plaintext, server.Plaintext = true, true
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _, cerr = handshake(ct, bufio.NewReader(ct), role, &client, nil)
		cc.Close()
	}()
	go func() {
		defer wg.Done()
		_, _, serr = handshake(st, bufio.NewReader(st), otherRole(role), &server, nil)
		sc.Close()
	}()
	wg.Wait()
	return st.written(), cerr, serr
}

// TestHandshakeToken: with the same token both ends accept, in either
// role at either position; a wrong or missing token is refused at both
// ends with an error that says so, and a server writes its proof only
// after the client's checked out.
func TestHandshakeToken(t *testing.T) {
	for _, role := range []proto.Role{proto.RoleSender, proto.RoleReceiver} {
		for _, tc := range []struct {
			name           string
			client, server string // tokens
			want           error
			cwant, swant   string // in each end's error
		}{
			{"match", "s3cret", "s3cret", nil, "", ""},
			{"wrong", "guess", "s3cret", ErrAuth, "the peer refused our token", "the peer's proof does not match our token"},
			{"client-without", "", "s3cret", ErrRefused, "token mismatch", "token mismatch"},
			{"server-without", "s3cret", "", ErrRefused, "token mismatch", "token mismatch"},
			{"none", "", "", nil, "", ""},
		} {
			t.Run("client-"+role.String()+"/"+tc.name, func(t *testing.T) {
				sout, cerr, serr := shake(t, role, Options{Token: tc.client}, Options{Token: tc.server})
				for _, e := range []struct {
					err  error
					want string
					end  string
				}{{cerr, tc.cwant, "client"}, {serr, tc.swant, "server"}} {
					if !errors.Is(e.err, tc.want) || tc.want != nil && !strings.Contains(e.err.Error(), e.want) {
						t.Errorf("%s: %v; want %v with %q", e.end, e.err, tc.want, e.want)
					}
				}
				// The server's proof follows its accepting verdict on the
				// client's Hello and on the client's proof, both 3 bytes.
				hasProof := len(sout) == proto.HelloSize+3+3+proto.ProofSize
				if hasProof != (tc.want == nil && tc.server != "") {
					t.Errorf("the server wrote %d bytes: %x", len(sout), sout)
				}
			})
		}
	}
}

// TestHandshakeNeitherDialed: two ends that both think they accepted the
// connection (Options.Dialed false at both, the zero value) wait for each
// other's proof and give up at their header timeout, having proved
// nothing. The timeout is long enough that each end's Hello arrives well
// within it, however late the other end's goroutine starts: an end that
// timed out waiting for the Hello would write no verdict.
func TestHandshakeNeitherDialed(t *testing.T) {
	o := Options{Token: "s3cret", HeaderTimeout: time.Second, Plaintext: true}
	cc, sc := tcpPair(t)
	var errs [2]error
	var outs [2][]byte
	var wg sync.WaitGroup
	for i, c := range []net.Conn{cc, sc} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tc := &tapConn{Conn: c}
			o := o
			tc.SetDeadline(time.Now().Add(o.headerTimeout())) // as begin does
			_, _, errs[i] = handshake(tc, bufio.NewReader(tc), proto.Role(i+1), &o, nil)
			outs[i] = tc.written()
		}()
	}
	wg.Wait()
	for i := range 2 {
		var ne net.Error
		if !errors.As(errs[i], &ne) || !ne.Timeout() {
			t.Errorf("end %d: %v; want a timeout", i, errs[i])
		}
		if len(outs[i]) != proto.HelloSize+3 {
			t.Errorf("end %d wrote %d bytes, want its Hello and its verdict only: %x", i, len(outs[i]), outs[i])
		}
	}
}

// TestProofInput checks the proof against the layout docs/PROTOCOL.md
// gives, and that each input changes it: a proof made for one role,
// position or pair of nonces passes for no other.
func TestProofInput(t *testing.T) {
	var c, s [16]byte
	for i := range c {
		c[i], s[i] = byte(i), byte(0x80+i)
	}
	a := &auth{token: []byte("s3cret"), client: c, server: s}
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte("zcopy-auth-v2\x01\x01"))
	m.Write(c[:])
	m.Write(s[:])
	m.Write([]byte{0, 0})
	if got, want := a.proof(proto.RoleSender, true), m.Sum(nil); !bytes.Equal(got, want) {
		t.Errorf("proof %x, want %x (the documented layout)", got, want)
	}
	seen := map[string]string{}
	add := func(what string, p []byte) {
		if prev, ok := seen[string(p)]; ok {
			t.Errorf("%s and %s have the same proof", what, prev)
		}
		seen[string(p)] = what
	}
	for _, role := range []proto.Role{proto.RoleSender, proto.RoleReceiver} {
		for _, client := range []bool{true, false} {
			what := role.String() + map[bool]string{true: " client", false: " server"}[client]
			add(what, a.proof(role, client))
			swapped := *a
			swapped.client, swapped.server = s, c
			add(what+", nonces swapped", swapped.proof(role, client))
			bound := *a
			bound.binding = []byte("exporter")
			add(what+", bound", bound.proof(role, client))
			other := *a
			other.token = []byte("s3cres")
			add(what+", other token", other.proof(role, client))
		}
	}
}

// fakeConn is a peer's stream scripted in advance, for the fuzz target: the
// end under test reads from a bufio.Reader over the script and writes
// here.
type fakeConn struct {
	net.Conn
	out bytes.Buffer
}

func (c *fakeConn) Write(b []byte) (int, error) { return c.out.Write(b) }
func (c *fakeConn) SetDeadline(time.Time) error { return nil }

// FuzzHandshakePeer plays a peer that does not know the token, with bytes
// of the fuzzer's choice, against an end that has it, at either position,
// in either role, in the clear or as inside TLS: everything an end parses
// before it trusts the peer. The end must refuse it (nothing short of the token
// makes a proof), and a server must write nothing but its Hello and
// verdicts: no proof for a peer that has not proven the token.
func FuzzHandshakePeer(f *testing.F) {
	auth := func(role proto.Role) []byte {
		return (&proto.Hello{Version: proto.Version, Role: role, Flags: proto.FlagAuth}).Append([]byte{0})
	}
	ok := (&proto.Verdict{OK: true}).Append(nil)
	guess := bytes.Repeat([]byte{0x5a}, proto.ProofSize)
	inTLS := func(role proto.Role) []byte {
		return (&proto.Hello{Version: proto.Version, Role: role, Flags: proto.FlagAuth | proto.FlagTLS}).Append([]byte{1})
	}
	f.Add(false, true, append(append(inTLS(proto.RoleReceiver), ok...), guess...))
	f.Add(true, false, append(append(append(inTLS(proto.RoleSender), ok...), ok...), guess...))
	f.Add(false, true, append([]byte{0}, 22, 3, 1, 0, 200, 1)) // a TLS ClientHello met in the clear
	f.Add(false, true, append([]byte{0}, inTLS(proto.RoleReceiver)[1:]...))
	f.Add(false, true, append(append(auth(proto.RoleReceiver), ok...), guess...))
	f.Add(false, false, append(append(auth(proto.RoleSender), ok...), guess...))
	f.Add(true, true, append(append(append(auth(proto.RoleReceiver), ok...), ok...), guess...))
	f.Add(true, false, append(append(auth(proto.RoleSender), ok...), ok...))
	f.Add(false, true, (&proto.Hello{Version: 3, Role: proto.RoleReceiver, Flags: proto.FlagAuth}).Append([]byte{0}))
	f.Add(false, true, append(auth(proto.RoleReceiver), (&proto.Verdict{Message: "no"}).Append(nil)...))
	f.Fuzz(func(t *testing.T, dialed, sender bool, peer []byte) {
		role := proto.RoleReceiver
		if sender {
			role = proto.RoleSender
		}
		c := &fakeConn{}
		// The first byte of the input picks the mode: in the clear, or
		// as inside TLS (with the binding a TLS session would give).
		plain := len(peer) > 0 && peer[0]&1 == 0
		var binding []byte
		if !plain {
			binding = bytes.Repeat([]byte{0xb1}, 32)
		}
		if len(peer) > 0 {
			peer = peer[1:]
		}
		o := Options{Token: "s3cret", Dialed: dialed, Plaintext: plain}
		_, _, err := handshake(c, bufio.NewReader(bytes.NewReader(peer)), role, &o, binding)
		if err == nil {
			t.Fatalf("accepted a peer without the token")
		}
		if dialed {
			return
		}
		br := bufio.NewReader(bytes.NewReader(c.out.Bytes()))
		if _, err := proto.ReadHello(br); err != nil {
			t.Fatalf("the server's hello: %v", err)
		}
		for br.Buffered() > 0 {
			if _, err := proto.ReadVerdict(br); err != nil {
				t.Fatalf("the server wrote %x after its Hello: not only verdicts (%v)", c.out.Bytes()[proto.HelloSize:], err)
			}
		}
	})
}

// TestPeerMessagePrintable: a refusal a peer writes before it proved
// anything reaches the user's terminal without control characters (an
// escape sequence could rewrite the screen or the title) or invalid UTF-8.
func TestPeerMessagePrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"busy", "busy"},
		{"\x1b[2J\x1b]0;pwned\x07", "?[2J?]0;pwned?"},
		{"a\rb\nc\x7f\u0085", "a?b?c??"},
		{"caf\xe9 ✓", "caf\uFFFD ✓"},
	} {
		br := bufio.NewReader(bytes.NewReader((&proto.Verdict{Message: tc.in}).Append(nil)))
		err := readVerdict(br)
		if !errors.Is(err, ErrRefused) || !strings.HasSuffix(err.Error(), "the peer refused: "+tc.want) {
			t.Errorf("refusal %q: %v; want it printed as %q", tc.in, err, tc.want)
		}
	}
}
