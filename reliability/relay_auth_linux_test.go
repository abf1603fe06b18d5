package reliability

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/testbin"
)

// relayToken is the token the honest ends share; the attacker never has it.
const relayToken = "relay-test-token-5b1e"

// TestRelayAuth is issue 14's relay attack, by a hand-written peer that
// never knew the token. It connects to a victim and to an oracle, two
// zcopy servers of opposite roles that share a token, and gives each the
// other's Hello, so that each is asked to prove the token over the nonces
// the other expects a proof over; then it passes what each writes to the
// other. Until protocol version 4 both ends proved at once, so each
// server's proof was the one the other wanted: the attacker came out of
// the handshake authenticated to both, and wrote a file into a receiver
// (push) or fetched a file from a sender (pull). Now the end that
// connected proves first and a listening end proves only once it has
// checked the peer's proof: the attacker is a client to both and has no
// proof to give, so neither server says anything that could be relayed,
// both give up at their header timeout, nothing is written and nothing is
// served. Afterwards both servers still serve honest peers with the token.
//
// The servers run --plaintext: the relay is an attack on the handshake in
// the clear, whose proofs are bound to nothing but the nonces. Inside TLS
// each proof is also bound to its TLS session, which a relay (a man in the
// middle with a TLS session towards each end) cannot make the same at both;
// tls_linux_test.go attacks that.
func TestRelayAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		push bool // the victim is the receiver (else the sender)
		// steal is what the attacker does with the victim once the
		// handshake is through; lost checks what the victim lost.
		steal func(t *testing.T, c net.Conn, br *bufio.Reader) error
		lost  func(t *testing.T, base string)
	}{
		{
			name: "push",
			push: true,
			steal: func(t *testing.T, c net.Conn, br *bufio.Reader) error {
				return plant(c, br, "planted.txt", []byte("written by a peer that never knew the token\n"))
			},
			lost: func(t *testing.T, base string) { absent(t, filepath.Join(base, "dst", "planted.txt")) },
		},
		{
			name: "pull",
			steal: func(t *testing.T, c net.Conn, br *bufio.Reader) error {
				got, err := fetch(c, br)
				if len(got) > 0 {
					t.Errorf("the attacker fetched %d bytes it had no right to", len(got))
				}
				return err
			},
			lost: func(t *testing.T, base string) {},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			plain := secModes[1]
			r, s := relayReceiver(t, plain, base), relaySender(t, plain, base)
			victim, oracle := s, r
			if tc.push {
				victim, oracle = r, s
			}
			figs.hostile("token relayed between two servers", 1)
			br, c, local, err := relayHandshake(victim.Addr(t), oracle.Addr(t))
			if err == nil {
				err = tc.steal(t, c, br)
				c.Close()
				t.Errorf("the relay got through the victim's handshake without the token (then: %v)", err)
			} else {
				t.Logf("the relay failed: %v", err)
			}
			tc.lost(t, base)
			logged(t, victim, local, "handshake")
			honestWithToken(t, plain, base, r, s)
		})
	}
}

// TestAuthNoProofForStrangers checks what makes the relay impossible: a
// listening end, sender or receiver, never writes a proof for a peer that
// has not proven the token. The peer here proves with a wrong token; after
// its Hello the server must write nothing but its verdict on the peer's
// Hello (accept) and its verdict on the proof (wrong token), then close.
// In both modes: inside TLS the stranger is a TLS client that writes the
// same bytes inside TLS.
func TestAuthNoProofForStrangers(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { authNoProofForStrangers(t, m) })
	}
}

func authNoProofForStrangers(t *testing.T, m secMode) {
	for _, tc := range []struct {
		name   string
		server func(t *testing.T, m secMode, base string) *proc
		role   proto.Role // the stranger's
	}{
		{"send-listen", relaySender, proto.RoleReceiver},
		{"recv-listen", relayReceiver, proto.RoleSender},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			s := tc.server(t, m, base)
			figs.hostile("token proof guessed", 1)
			c, err := dialPeer(m, s.Addr(t), testbin.HangGuard)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local := c.LocalAddr().String()
			c.SetDeadline(time.Now().Add(testbin.HangGuard))
			h := proto.Hello{Version: proto.Version, Role: tc.role, Flags: proto.FlagAuth | m.peerFlags()}
			rand.Read(h.Nonce[:])
			guess := make([]byte, proto.ProofSize)
			rand.Read(guess)
			c.Write(cat(h.Append(nil), (&proto.Verdict{OK: true}).Append(nil), guess))
			reply, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading the server's reply: %v", err)
			}
			want := cat((&proto.Verdict{OK: true}).Append(nil), (&proto.Verdict{Message: "wrong token"}).Append(nil))
			if len(reply) < proto.HelloSize || !bytes.Equal(reply[proto.HelloSize:], want) {
				t.Errorf("after its Hello the server wrote %x; want only its two verdicts %x (anything more is a proof computed for a stranger)", reply[min(len(reply), proto.HelloSize):], want)
			}
			logged(t, s, local, "authentication failed")
			s.stop(t)
		})
	}
}

// logged waits until server p has said how the session of peer ended, and
// checks that it said want.
func logged(t *testing.T, p *proc, peer, want string) {
	t.Helper()
	var lines string
	eventually(testbin.HangGuard, func() bool {
		lines = peerLines(p.Log(), peer)
		return lines != ""
	})
	if !strings.Contains(lines, want) {
		t.Errorf("the server said nothing with %q about %s; its log:\n%s", want, peer, p.Log())
	}
	t.Logf("the server, about %s: %s", peer, lines)
}

// relayReceiver starts zcopy recv --listen --keep with the token, in mode
// m, writing under base/dst.
func relayReceiver(t *testing.T, m secMode, base string) *proc {
	return start(t, m.args("recv", "--listen", "127.0.0.1:0", "--keep", "--dir", filepath.Join(base, "dst"),
		"--token", relayToken, "--header-timeout", "3s")...)
}

// relaySender starts zcopy send --listen --keep with the token, in mode m,
// serving base/secret.bin (which it writes).
func relaySender(t *testing.T, m secMode, base string) *proc {
	src := filepath.Join(base, "secret.bin")
	writeRandom(t, src, 4096)
	return start(t, m.args("send", "--listen", "127.0.0.1:0", "--keep", "--token", relayToken, "--header-timeout", "3s", src)...)
}

// relayHandshake is the attacker's relay. It connects to victim and
// oracle, waits for both Hellos (a zcopy end writes its own first), gives
// each the other's, and passes on what each writes next, as much as
// protocol version 3 wrote after the Hello (a proof and an accepting
// verdict). It returns the victim's connection, ready for the session, and
// the attacker's address on it; err says where the relay stopped.
func relayHandshake(victimAddr, oracleAddr string) (br *bufio.Reader, victim net.Conn, local string, err error) {
	victim, err = net.Dial("tcp", victimAddr)
	if err != nil {
		return nil, nil, "", err
	}
	local = victim.LocalAddr().String()
	oracle, err := net.Dial("tcp", oracleAddr)
	if err != nil {
		victim.Close()
		return nil, nil, local, err
	}
	defer oracle.Close() // needed for the handshake only
	deadline := time.Now().Add(testbin.HangGuard)
	victim.SetDeadline(deadline)
	oracle.SetDeadline(deadline)
	vr, or := bufio.NewReader(victim), bufio.NewReader(oracle)
	vh, oh := make([]byte, proto.HelloSize), make([]byte, proto.HelloSize)
	if _, err := io.ReadFull(vr, vh); err != nil {
		victim.Close()
		return nil, nil, local, fmt.Errorf("the victim's hello: %w", err)
	}
	if _, err := io.ReadFull(or, oh); err != nil {
		victim.Close()
		return nil, nil, local, fmt.Errorf("the oracle's hello: %w", err)
	}
	victim.Write(oh)
	oracle.Write(vh)
	tail := int64(proto.ProofSize + len((&proto.Verdict{OK: true}).Append(nil)))
	errs := make(chan error, 2)
	pass := func(dst net.Conn, src *bufio.Reader, what string) {
		if _, err := io.CopyN(dst, src, tail); err != nil {
			errs <- fmt.Errorf("passing on the %s's proof: %w", what, err)
			return
		}
		errs <- nil
	}
	go pass(victim, or, "oracle")
	go pass(oracle, vr, "victim")
	err = errors.Join(<-errs, <-errs)
	if err != nil {
		victim.Close()
		return nil, nil, local, err
	}
	return vr, victim, local, nil
}

// plant sends one file to a receiver whose handshake is done, as a
// sender would, and returns the receiver's summary's first failure.
func plant(c net.Conn, br *bufio.Reader, name string, body []byte) error {
	e := proto.Entry{Kind: proto.KindFile, Path: name, Mode: 0o644, MTime: time.Now().UnixNano(), Size: int64(len(body))}
	if _, err := c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(e.Append(nil))); err != nil {
		return err
	}
	p, err := proto.ReadPlan(br)
	if err != nil {
		return err
	}
	if p.Action != proto.ActionSend {
		return fmt.Errorf("the receiver planned %v: %s", p.Action, p.Message)
	}
	b := (&proto.DataHeader{Index: 0, Length: int64(len(body))}).Append(nil)
	b = (&proto.Trailer{}).Append(append(b, body...))
	if _, err := c.Write(append(b, proto.FinMagic[:]...)); err != nil {
		return err
	}
	s, err := proto.ReadSummary(br)
	if err == nil && len(s.Failures) > 0 {
		err = errors.New(s.Failures[0].Message)
	}
	return err
}

// fetch receives from a sender whose handshake is done, as a receiver
// would, asking for every file whole, and returns the bodies' bytes.
func fetch(c net.Conn, br *bufio.Reader) ([]byte, error) {
	for {
		e, err := proto.ReadEntry(br)
		if err != nil {
			return nil, err
		}
		if e.Kind == proto.KindEnd {
			break
		}
		if _, err := c.Write((&proto.Plan{Action: proto.ActionSend}).Append(nil)); err != nil {
			return nil, err
		}
	}
	var got []byte
	for {
		h, fin, err := proto.ReadDataHeader(br)
		if err != nil {
			return got, err
		}
		if fin {
			break
		}
		body := make([]byte, h.Length)
		if _, err := io.ReadFull(br, body); err != nil {
			return got, err
		}
		got = append(got, body...)
		if _, err := proto.ReadTrailer(br); err != nil {
			return got, err
		}
	}
	_, err := c.Write((&proto.Summary{}).Append(nil))
	return got, err
}

// honestWithToken checks that r and s (started by relayReceiver and
// relaySender in mode m under base) still serve peers that have the
// token, a push to the receiver and a pull from the sender, and then stop
// cleanly.
func honestWithToken(t *testing.T, m secMode, base string, r, s *proc) {
	t.Helper()
	src := filepath.Join(base, "honest.bin")
	honest := writeRandom(t, src, 64<<10)
	if code, _, serr := run(t, m.args("send", "--to", r.Addr(t), "--token", relayToken, src)...); code != 0 {
		t.Errorf("an honest push with the token: exit %d: %s", code, serr)
	} else if arrived(t, filepath.Join(base, "dst", "honest.bin"), honest) {
		figs.transfer(1)
	}
	fetched := filepath.Join(base, "fetched")
	if code, _, rerr := run(t, m.args("recv", "--from", s.Addr(t), "--token", relayToken, "--dir", fetched)...); code != 0 {
		t.Errorf("an honest pull with the token: exit %d: %s", code, rerr)
	} else if arrivedAs(t, filepath.Join(fetched, "secret.bin"), filepath.Join(base, "secret.bin")) {
		figs.transfer(1)
	}
	r.stop(t)
	s.stop(t)
}
