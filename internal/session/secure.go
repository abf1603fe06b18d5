package session

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/secure"
)

// ErrMismatch reports two ends that disagree on encryption: one runs
// --plaintext and the other not. The error's text says what to change.
var ErrMismatch = errors.New("encryption mismatch")

// Messages for the two sides of a mismatch, as the end that notices it
// says them.
const (
	peerPlain     = "the peer answered in the clear, as an end with --plaintext does, and this end is encrypted (the default): drop --plaintext there; add it here only on a network you control, since then anyone on the path reads the data (and anyone on the path can also forge this answer)"
	peerEncrypted = "the peer is encrypted (the default) and this end runs --plaintext: add --plaintext there, or drop it here"
)

// secureConn runs the TLS 1.3 handshake on conn (as the client if o.Dialed)
// and returns the TLS connection and the value the token proofs are bound
// to. It runs within the deadline begin set. A peer that speaks zcopy in
// the clear is told so, in the clear, by a server (see refusePlain), and is
// reported as ErrMismatch; any other failure is the TLS error.
func secureConn(conn net.Conn, role proto.Role, o *Options) (net.Conn, []byte, error) {
	tc, binding, err := secure.Handshake(context.Background(), conn, o.Dialed, o.Certificate)
	if err != nil {
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) && bytes.HasPrefix(rh.RecordHeader[:], proto.HelloMagic[:]) {
			if !o.Dialed {
				refusePlain(conn, role)
			}
			return nil, nil, fmt.Errorf("handshake: %w: %s", ErrMismatch, peerPlain)
		}
		if o.Dialed {
			return nil, nil, fmt.Errorf("handshake: TLS: %w (the peer did not complete a TLS handshake: is it a zcopy send or recv in framed mode, not --raw, nc or another program?)", err)
		}
		return nil, nil, fmt.Errorf("handshake: TLS: %w", err)
	}
	return tc, binding, nil
}

// refusePlain answers a --plaintext client in its own terms: a Hello that
// says this end is encrypted (FlagTLS), which the client's judge refuses
// with peerEncrypted, and a Verdict that refuses its Hello for the same
// reason. What the client sent is not read further: it reads ours first.
func refusePlain(conn net.Conn, role proto.Role) {
	h := proto.Hello{Version: proto.Version, Role: role, Flags: proto.FlagTLS}
	out := h.Append(nil)
	out = (&proto.Verdict{Message: peerPlain}).Append(out)
	conn.Write(out)
}

// tlsPeer reports whether the first bytes br holds open a TLS handshake
// record (RFC 8446, section 5.1: type 22, legacy version 3.x): a peer
// that encrypts, met by an end that runs --plaintext. It waits for three
// bytes, within the handshake's deadline.
func tlsPeer(br *bufio.Reader) bool {
	b, err := br.Peek(3)
	return err == nil && b[0] == 22 && b[1] == 3
}
