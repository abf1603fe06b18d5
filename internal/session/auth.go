package session

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/zcopy/zcopy/internal/proto"
)

// The token's challenge and response (docs/PROTOCOL.md, section 1; proof
// version 2, since protocol version 4, issue 14; bound to TLS since
// version 5, issue 15). Invariants any change must keep:
//
//   - An end proves the token only after it has checked the peer's proof,
//     except the client (the end that opened the connection, Options.Dialed),
//     which proves first: so a listening end never computes a proof for a
//     peer that has not shown the token, and cannot serve as an oracle.
//     Until protocol version 3 both ends proved at once, and an attacker
//     without the token answered a receiver's challenge by passing it, as
//     its own nonce, to any `zcopy send --listen` with the same token, whose
//     proof was the one the receiver wanted (the relay of issue 14).
//   - A proof covers the prover's role and position (client or server), both
//     nonces in a fixed order (the client's, then the server's), and a
//     channel binding, under the label "zcopy-auth-v2": a proof made for one
//     role, position or connection never passes for another.
//   - Inside TLS the channel binding is the TLS session's exporter value
//     (secure.Binding, protocol version 5), so a proof is good only inside
//     the TLS session it was made in: a man in the middle who terminates
//     TLS towards each end has two sessions with two values, and neither
//     end's proof passes at the other (issue 15). In plaintext it is empty.
//
// What plaintext cannot protect: an attacker in the middle of an honest
// client's connection can pass the whole handshake through unchanged and
// then take over the session, since no record after the handshake is
// authenticated. The token keeps out peers that do not know it; it does not
// protect a session from someone who can rewrite its packets. Inside TLS
// every record is authenticated, and the proof ties the TLS session to the
// token.

// authLabel opens every proof; a change to what a proof covers changes it.
const authLabel = "zcopy-auth-v2"

// Positions of an end in the proof: the one that opened the connection
// (client) or the one that accepted it (server).
const (
	posClient byte = 1
	posServer byte = 2
)

// wrongToken is the message of the verdict that refuses a proof.
const wrongToken = "wrong token"

// auth is one end's part in proving the token, once the Hellos are through.
type auth struct {
	token          []byte
	role           proto.Role
	dialed         bool
	client, server [16]byte // the nonces: the client's, the server's
	binding        []byte   // channel binding: the TLS exporter value, or empty in plaintext
}

// newAuth returns this end's part for a session with token, with own and
// peer the nonces of the two Hellos; nil without a token.
func newAuth(o *Options, role proto.Role, own, peer [16]byte, binding []byte) *auth {
	if o.Token == "" {
		return nil
	}
	a := &auth{token: []byte(o.Token), role: role, dialed: o.Dialed, client: peer, server: own, binding: binding}
	if o.Dialed {
		a.client, a.server = own, peer
	}
	return a
}

// proof is HMAC-SHA256(token, "zcopy-auth-v2" | role | position | client
// nonce | server nonce | binding as a string) for the end of role at the
// client or the server position.
func (a *auth) proof(role proto.Role, client bool) []byte {
	pos := posServer
	if client {
		pos = posClient
	}
	m := hmac.New(sha256.New, a.token)
	m.Write([]byte(authLabel))
	m.Write([]byte{byte(role), pos})
	m.Write(a.client[:])
	m.Write(a.server[:])
	m.Write(binary.BigEndian.AppendUint16(nil, uint16(len(a.binding))))
	m.Write(a.binding)
	return m.Sum(nil)
}

// own is this end's proof.
func (a *auth) own() []byte { return a.proof(a.role, a.dialed) }

// exchange finishes the proofs once both ends have accepted each other's
// Hello. The client's proof went out with its verdict on the server's
// Hello; the server checks it and answers with its verdict on it and, if it
// accepts, its own proof; the client checks that and answers with its
// verdict on it.
func (a *auth) exchange(conn net.Conn, br *bufio.Reader) error {
	if a.dialed {
		if err := readVerdict(br); err != nil {
			return err
		}
	}
	var got [proto.ProofSize]byte
	if _, err := readFull(br, got[:]); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if !hmac.Equal(got[:], a.proof(otherRole(a.role), !a.dialed)) {
		conn.Write((&proto.Verdict{Message: wrongToken}).Append(nil))
		return fmt.Errorf("%w: the peer's proof does not match our token", ErrAuth)
	}
	out := (&proto.Verdict{OK: true}).Append(nil)
	if !a.dialed {
		out = append(out, a.own()...)
	}
	if _, err := conn.Write(out); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if a.dialed {
		return nil
	}
	return readVerdict(br)
}

// readVerdict reads the peer's verdict and returns nil if it accepts, or
// the error that says why it refused.
func readVerdict(br *bufio.Reader) error {
	v, err := proto.ReadVerdict(br)
	switch {
	case err != nil:
		return fmt.Errorf("handshake: %w", err)
	case v.OK:
		return nil
	case v.Message == wrongToken:
		return fmt.Errorf("%w: the peer refused our token", ErrAuth)
	}
	return fmt.Errorf("%w: the peer refused: %s", ErrRefused, printable(v.Message))
}

// printable returns a message a peer wrote, perhaps before it proved
// anything, made safe to print on a terminal: control characters (C0, DEL,
// C1), which could be taken for commands, become '?', and invalid UTF-8
// becomes U+FFFD.
func printable(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c >= 0x7f && c < 0xa0 {
			return '?'
		}
		return c
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// otherRole is the role of the peer of an end of role r.
func otherRole(r proto.Role) proto.Role {
	if r == proto.RoleReceiver {
		return proto.RoleSender
	}
	return proto.RoleReceiver
}
