package session

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
)

// ErrAuth reports a peer that did not prove the token.
var ErrAuth = errors.New("authentication failed")

// ErrRefused reports a handshake that one end refused for a reason it
// gave (versions, roles, streams, flags): the error's text says what to
// change.
var ErrRefused = errors.New("handshake refused")

// handshake exchanges Hellos, proofs of the token and verdicts. It returns
// whether the session verifies hashes (either end asked). Both ends write
// before they read, and every record is small, so neither can block the
// other.
func handshake(conn net.Conn, br *bufio.Reader, role proto.Role, o *Options) (verify bool, peer proto.Hello, err error) {
	conn.SetDeadline(time.Now().Add(o.headerTimeout()))
	defer conn.SetDeadline(time.Time{})

	me := proto.Hello{Version: proto.Version, Role: role}
	if o.Stream.Count > 1 {
		me.Group, me.Stream, me.Streams = o.Stream.Group, uint8(o.Stream.Index), uint8(o.Stream.Count)
	}
	if o.Verify {
		me.Flags |= proto.FlagVerify
	}
	if o.Token != "" {
		me.Flags |= proto.FlagAuth
	}
	if _, err := rand.Read(me.Nonce[:]); err != nil {
		return false, peer, err
	}
	if _, err := conn.Write(me.Append(nil)); err != nil {
		return false, peer, fmt.Errorf("handshake: %w", err)
	}
	peer, err = proto.ReadHello(br)
	if err != nil {
		return false, peer, fmt.Errorf("handshake: %w", err)
	}
	want := proto.RoleReceiver
	if role == proto.RoleReceiver {
		want = proto.RoleSender
	}
	var reject string
	switch {
	case peer.Version != proto.Version:
		reject = fmt.Sprintf("protocol version %d is not supported (this end speaks %d)", peer.Version, proto.Version)
	case peer.Role != want:
		reject = fmt.Sprintf("both ends are %vs: one must send and the other receive", role)
	case peer.Group != 0 && me.Group != 0:
		reject = "both ends opened streams: only the side that connects sets a stream group"
	case peer.Group != 0 && o.OneConnection:
		reject = fmt.Sprintf("this end serves one connection and cannot take a transfer over %d streams: start it with --keep, or use one stream", peer.Streams)
	case peer.Flags&^(proto.FlagVerify|proto.FlagAuth) != 0:
		reject = fmt.Sprintf("unknown hello flags %#x", peer.Flags)
	case (peer.Flags&proto.FlagAuth != 0) != (o.Token != ""):
		reject = "token mismatch: one end has a token and the other not"
	}
	if reject == "" && o.Token != "" {
		if _, err := conn.Write(proof(o.Token, role, me.Nonce, peer.Nonce)); err != nil {
			return false, peer, fmt.Errorf("handshake: %w", err)
		}
		var got [proto.ProofSize]byte
		if _, err := readFull(br, got[:]); err != nil {
			return false, peer, fmt.Errorf("handshake: %w", err)
		}
		if !hmac.Equal(got[:], proof(o.Token, peer.Role, peer.Nonce, me.Nonce)) {
			reject = "wrong token"
		}
	}
	v := proto.Verdict{OK: reject == "", Message: reject}
	if _, err := conn.Write(v.Append(nil)); err != nil {
		return false, peer, fmt.Errorf("handshake: %w", err)
	}
	pv, err := proto.ReadVerdict(br)
	if err != nil && reject == "" {
		return false, peer, fmt.Errorf("handshake: %w", err)
	}
	switch {
	case reject == "wrong token":
		return false, peer, fmt.Errorf("%w: the peer's proof does not match our token", ErrAuth)
	case reject != "":
		return false, peer, fmt.Errorf("%w: %s", ErrRefused, reject)
	case !pv.OK && pv.Message == "wrong token":
		return false, peer, fmt.Errorf("%w: the peer refused our token", ErrAuth)
	case !pv.OK:
		return false, peer, fmt.Errorf("%w: the peer refused: %s", ErrRefused, pv.Message)
	}
	return (me.Flags|peer.Flags)&proto.FlagVerify != 0, peer, nil
}

// proof is HMAC-SHA256(token, "zcopy-auth-v1" | role | own nonce | peer
// nonce): it shows the token without sending it, and cannot be replayed
// because the peer's nonce is fresh.
func proof(token string, role proto.Role, own, peer [16]byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("zcopy-auth-v1"))
	m.Write([]byte{byte(role)})
	m.Write(own[:])
	m.Write(peer[:])
	return m.Sum(nil)
}
