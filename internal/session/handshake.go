package session

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"net"

	"github.com/zcopy/zcopy/internal/proto"
)

// ErrAuth reports a peer that did not prove the token.
var ErrAuth = errors.New("authentication failed")

// ErrRefused reports a handshake that one end refused for a reason it
// gave (versions, roles, streams, flags): the error's text says what to
// change.
var ErrRefused = errors.New("handshake refused")

// handshake exchanges Hellos and each end's verdict on the other's, then,
// with a token, the proofs of it (auth.go), bound to binding (the TLS
// session's, secure.Binding; nil in plaintext). It returns whether the session
// verifies hashes (either end asked). Both ends write their Hello and their
// verdict before they read the peer's, and every record is small, so
// neither can block the other.
func handshake(conn net.Conn, br *bufio.Reader, role proto.Role, o *Options, binding []byte) (verify bool, peer proto.Hello, err error) {
	me := proto.Hello{Version: proto.Version, Role: role}
	if !o.Plaintext {
		me.Flags |= proto.FlagTLS
	}
	if o.Stream.Count > 1 {
		me.Group, me.Stream, me.Streams = o.Stream.Group, uint8(o.Stream.Index), uint8(o.Stream.Count)
	}
	if o.Verify {
		me.Flags |= proto.FlagVerify
	}
	if o.Token != "" {
		me.Flags |= proto.FlagAuth
	}
	if o.DryRun && role == proto.RoleSender {
		me.Flags |= proto.FlagDryRun
	}
	if o.Delete && role == proto.RoleSender {
		me.Flags |= proto.FlagDelete
	}
	if o.Owner && role == proto.RoleSender {
		me.Flags |= proto.FlagOwner
	}
	if _, err := rand.Read(me.Nonce[:]); err != nil {
		return false, peer, err
	}
	if _, err := conn.Write(me.Append(nil)); err != nil {
		return false, peer, fmt.Errorf("handshake: %w", err)
	}
	if o.Plaintext && tlsPeer(br) {
		return false, peer, fmt.Errorf("handshake: %w: %s", ErrMismatch, peerEncrypted)
	}
	peer, err = proto.ReadHello(br)
	if err != nil {
		return false, peer, fmt.Errorf("handshake: %w", err)
	}
	reject := judge(me, peer, o)
	a := newAuth(o, role, me.Nonce, peer.Nonce, binding)
	// A client that accepts the server's Hello proves the token at once,
	// after its verdict; the server proves it only in exchange.
	out := (&proto.Verdict{OK: reject == "", Message: reject}).Append(nil)
	if reject == "" && a != nil && a.dialed {
		out = append(out, a.own()...)
	}
	if _, err := conn.Write(out); err != nil {
		return false, peer, fmt.Errorf("handshake: %w", err)
	}
	if reject != "" {
		proto.ReadVerdict(br) // the peer's, if it says one: ours is the reason
		if reject == peerEncrypted {
			return false, peer, fmt.Errorf("handshake: %w: %s", ErrMismatch, reject)
		}
		return false, peer, fmt.Errorf("%w: %s", ErrRefused, reject)
	}
	if err := readVerdict(br); err != nil {
		return false, peer, err
	}
	if a != nil {
		if err := a.exchange(conn, br); err != nil {
			return false, peer, err
		}
	}
	return (me.Flags|peer.Flags)&proto.FlagVerify != 0, peer, nil
}

// judge returns why this end, which says me, refuses a peer that says
// peer, or "" if it accepts it.
func judge(me, peer proto.Hello, o *Options) string {
	switch {
	case o.Plaintext && peer.Flags&proto.FlagTLS != 0:
		// An encrypted end refusing us in the clear (refusePlain).
		return peerEncrypted
	case peer.Version != proto.Version:
		return fmt.Sprintf("protocol version %d is not supported (this end speaks %d)", peer.Version, proto.Version)
	case peer.Role != otherRole(me.Role):
		return fmt.Sprintf("both ends are %vs: one must send and the other receive", me.Role)
	case peer.Group != 0 && me.Group != 0:
		return "both ends opened streams: only the side that connects sets a stream group"
	case peer.Group != 0 && o.OneConnection:
		return fmt.Sprintf("the listening end serves one connection (it was started without --keep) and cannot take a transfer over %d streams: start it with --keep, or use one stream", peer.Streams)
	case !o.Plaintext && peer.Flags&proto.FlagTLS == 0:
		// Inside TLS every zcopy peer says so.
		return "the peer's Hello inside TLS does not say it is encrypted"
	case peer.Flags&^(proto.FlagVerify|proto.FlagAuth|proto.FlagTLS|proto.FlagDryRun|proto.FlagDelete|proto.FlagOwner) != 0:
		return fmt.Sprintf("unknown hello flags %#x", peer.Flags)
	case me.Role == proto.RoleReceiver && o.DryRun && peer.Flags&proto.FlagDryRun == 0:
		return "the receiver was started with --dry-run and takes only a dry run: give the sender --dry-run too, or start the receiver without it"
	case peer.Flags&proto.FlagDelete != 0 && (peer.Role != proto.RoleSender || peer.Group != 0 || me.Group != 0):
		return "only a sender asks for --delete, over one stream"
	case peer.Flags&proto.FlagDelete != 0 && !o.Delete:
		return "the sender asks for --delete and this receiver does not allow it: start the receiver with --delete too (the one-command form does), or send without it"
	case peer.Flags&proto.FlagOwner != 0 && (peer.Role != proto.RoleSender || peer.Group != 0 || me.Group != 0):
		return "only a sender sends owners (--owner), over one stream"
	case peer.Flags&proto.FlagOwner != 0 && !o.Owner:
		return "the sender sends owners (--owner) and this receiver does not take them: start the receiver with --owner too (the one-command form does), or send without it"
	case peer.Flags&proto.FlagDryRun != 0 && peer.Role != proto.RoleSender:
		return "only a sender asks for a dry run"
	case peer.Flags&proto.FlagDryRun != 0 && (peer.Group != 0 || me.Group != 0):
		return "a dry run goes over one stream"
	case peer.Flags&proto.FlagAuth != 0 && o.Token == "":
		return "token mismatch: the peer has a token and this end none (give this end the token the listening end printed, by --token or $ZCOPY_TOKEN)"
	case peer.Flags&proto.FlagAuth == 0 && o.Token != "":
		return "token mismatch: this end has a token and the peer none (give the peer the same token, by --token or $ZCOPY_TOKEN)"
	}
	return ""
}
