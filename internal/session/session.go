// Package session runs one framed zcopy transfer over one connection: the
// handshake (versions, roles, the optional token), the manifest the sender
// sends, the plan the receiver answers with, the file bodies moved by the
// zerocopy engine, and the receiver's summary. docs/PROTOCOL.md describes
// the wire; package proto encodes and decodes it.
//
// The receiver treats the sender as hostile: every record is checked before
// use, every file is written through an os.Root as NAME.zcopy-part and
// renamed into place only when complete (and verified, with Verify), and a
// connection that breaks the protocol is dropped without touching anything
// outside the root. Small files sent whole are checked in memory first and,
// on Linux, linked into place from an unnamed file (placeWhole), several at
// once.
package session

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/zerocopy"
)

// Options configure either end of a session.
type Options struct {
	// Method moves file bodies (a send method for the sender, a receive
	// method for the receiver).
	Method zerocopy.Method
	// Verify asks for an end-to-end XXH3-128 hash of every file, computed
	// by both ends; a mismatch fails the file. Either end may ask.
	Verify bool
	// Token, if set, must be proved by the peer (HMAC-SHA256 challenge and
	// response; the token never crosses the wire). Both ends need the same.
	// Inside TLS the proof is bound to the TLS session, so that a man in the
	// middle is caught; without a token TLS keeps out eavesdroppers but not
	// such a man in the middle.
	Token string
	// Plaintext runs the session in the clear, as protocol version 4 did:
	// file bodies move by sendfile and splice, and anyone on the path can
	// read them. By default (false) the session runs inside TLS 1.3, whose
	// bodies are encrypted and copied through user space. Both ends must
	// agree; if not, both fail at once with ErrMismatch.
	Plaintext bool
	// Certificate is the TLS certificate of an end that accepts the
	// connection (secure.NewCertificate); nil makes a throwaway one for the
	// session. Unused by the end that dials, and in plaintext.
	Certificate *tls.Certificate
	// Dialed says that this end opened the connection (the client): with
	// a token it proves the token first, and the end that accepted the
	// connection proves it only once it has checked that proof (auth.go).
	// False, the accepting end's value, is the safe default: two ends
	// that both wait for the other's proof time out, and neither proves
	// the token to a stranger.
	Dialed bool
	// HeaderTimeout bounds the handshake (10 s if zero).
	HeaderTimeout time.Duration
	// IdleTimeout bounds any wait for the peer once the handshake is done
	// (60 s if zero).
	IdleTimeout time.Duration

	// Stream, when Count > 1, makes this connection stream Index of Count
	// in Group: set by the side that opens the streams.
	Stream Stream
	// OneConnection says that this end serves a single connection and then
	// exits, so it refuses a peer that opens several streams (it could
	// never see the others) instead of taking one share of the transfer.
	OneConnection bool
	// Groups tracks the files that arrive in ranges over several streams.
	// A receiver that serves shares one among its connections; nil makes
	// one for the session.
	Groups *Groups

	// DryRun, at a sender, asks the receiver to plan the transfer and make
	// or write nothing: the plans say what would be sent, skipped or
	// refused (OnPlan hears each), and no body moves. The receiver's
	// answers are those it gives before anything is written, so a file
	// that would be resumed shows as sent whole. At a receiver, it takes
	// only a sender's dry run, and refuses any other (Receive may then be
	// given a nil root: a directory that does not exist yet).
	DryRun bool
	// Delete, at a sender, asks the receiver to remove under each
	// directory sent what the sender did not list there (rsync --delete);
	// at a receiver, it allows a sender to ask (a sender that asks a
	// receiver that does not allow it is refused in the handshake). The
	// receiver removes only once every entry arrived: after any failure
	// it removes nothing.
	Delete bool
	// Owner, at a sender, sends each entry's numeric owner and group; at
	// a receiver, it takes them, and applies them where it runs as root
	// (elsewhere it says once that it cannot). A sender that sends owners
	// to a receiver that does not take them is refused in the handshake.
	Owner bool
	// Limit, if set, paces the bodies this sender writes (--bwlimit); the
	// streams of one transfer share one.
	Limit *Limiter
	// OnPlan, if set, hears the receiver's plan for each item (sender
	// only), in manifest order, once all plans are in.
	OnPlan func(e proto.Entry, p proto.Plan)

	// Receiver only.

	// Resume continues files whose NAME.zcopy-part the receiver holds,
	// when the part records the same version of the file (package part);
	// any other part is started over. A resumed file is kept only if it
	// hashes whole as the sender's file does (protocol version 7); else it
	// fails and its part is discarded. zcopy recv sets it unless
	// --no-resume.
	Resume bool
	// Overwrite replaces existing files that differ in size or mtime.
	Overwrite bool
	// Fsync syncs each file before it is renamed into place.
	Fsync bool

	// Progress, if set, is called as bodies move, with how far the
	// session is.
	Progress func(Progress)
	// Warn, if set, receives one line for each file that failed or was
	// left out, as it happens.
	Warn func(string)
}

// Progress is how far a session is, for Options.Progress.
type Progress struct {
	// Done and Total count the body bytes of the files to move, each
	// from its start: the bytes a resumed file takes from its part count
	// as done from the first call.
	Done, Total int64
	// Files counts the files whose bodies have moved, of FileCount to
	// move (a file in ranges counts once, with its first range).
	Files, FileCount int
	// Name is the path of the file moving now, or of the last one.
	Name string
}

// add adds q's counts to p's; the name is q's, if it has one.
func (p *Progress) add(q Progress) {
	p.Done += q.Done
	p.Total += q.Total
	p.Files += q.Files
	p.FileCount += q.FileCount
	if q.Name != "" {
		p.Name = q.Name
	}
}

// Stream places one connection among the streams of a transfer.
type Stream struct {
	Group        uint32 // random, non-zero, the same on every stream
	Index, Count int
}

func (o *Options) headerTimeout() time.Duration {
	if o.HeaderTimeout > 0 {
		return o.HeaderTimeout
	}
	return 10 * time.Second
}

func (o *Options) idleTimeout() time.Duration {
	if o.IdleTimeout > 0 {
		return o.IdleTimeout
	}
	return 60 * time.Second
}

func (o *Options) warn(msg string) {
	if o.Warn != nil {
		o.Warn(msg)
	}
}

// link is a session's connection once begin has set it up: the
// cancellable connection, inside TLS unless the session is plaintext, and
// the buffered reader all its records are read through.
type link struct {
	conn net.Conn
	br   *bufio.Reader
}

// begin starts either end's side of a session over conn: it fills in
// *res, makes the end of ctx cut conn's waits short, runs TLS unless
// o.Plaintext, and shakes hands, all within the header timeout. The reader
// it returns buffers bufSize bytes. The caller defers end, which lets go of
// ctx and records the session's duration, whatever the error.
func begin(ctx context.Context, conn net.Conn, bufSize int, role proto.Role, o *Options, res *Result) (l link, end func(), peer proto.Hello, err error) {
	start := time.Now()
	*res = Result{Streams: 1, Method: o.Method}
	conn = cancellable(ctx, conn)
	// The cancellation holds the connection beneath TLS: conn is replaced
	// below (by the TLS connection, or nil when TLS fails) while ctx may end.
	raw := conn
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(aLongTimeAgo) })
	end = func() {
		stop()
		res.Seconds = time.Since(start).Seconds()
	}
	conn.SetDeadline(time.Now().Add(o.headerTimeout()))
	defer conn.SetDeadline(time.Time{})
	var binding []byte
	if !o.Plaintext {
		if conn, binding, err = secureConn(conn, role, o); err != nil {
			return l, end, peer, err
		}
	}
	l = link{conn: conn, br: bufio.NewReaderSize(conn, bufSize)}
	res.Verified, peer, err = handshake(l.conn, l.br, role, o, binding)
	return l, end, peer, err
}

// Result is what a session did.
type Result struct {
	Files     int             `json:"files"`             // files now complete at the receiver (sent or already there)
	Bytes     int64           `json:"bytes"`             // bytes of those files
	BytesSent int64           `json:"bytes_sent"`        // body bytes that crossed the wire
	HoleBytes int64           `json:"hole_bytes"`        // bytes of sparse files' holes, which did not cross it
	Skipped   int             `json:"skipped"`           // files the receiver already had
	Dirs      int             `json:"dirs"`              // directories made or present
	Symlinks  int             `json:"symlinks"`          // symlinks made
	Hardlinks int             `json:"hardlinks"`         // hard links made or present (send -H)
	Deleted   int             `json:"deleted,omitempty"` // names removed at the receiver (--delete; receiver only)
	Failed    []string        `json:"failed,omitempty"`
	Seconds   float64         `json:"seconds"`
	Method    zerocopy.Method `json:"method"` // the method that moved the most bytes
	Streams   int             `json:"streams"`
	Verified  bool            `json:"verified"`
	// DryRun: nothing was sent or written; Files and Bytes are what
	// would be complete at the receiver, ToSend what would be sent.
	DryRun bool `json:"dry_run,omitempty"`
	ToSend int  `json:"to_send,omitempty"` // files that would be sent (dry run)

	// SkippedBytes are the bytes of the files skipped (counted in Bytes
	// too).
	SkippedBytes int64 `json:"skipped_bytes"`
	// Resumed counts the bytes taken from parts (NAME.zcopy-part) that an
	// earlier transfer of the same version of a file left: not sent again.
	Resumed int64 `json:"resumed"`
	// Kept is the part a receiver kept of the file whose body was cut
	// short when the session failed (nil if none was), for a resume.
	Kept *Kept `json:"kept,omitempty"`
}

// Kept says what a receiver kept of a file cut short: Bytes of its Size
// are in the part Path (relative to the receiver's directory), which a
// resume continues.
type Kept struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Size  int64  `json:"size"`
}

// methodTally counts bytes by the method that moved them.
type methodTally map[zerocopy.Method]int64

// add records n bytes moved by m.
func (t methodTally) add(m zerocopy.Method, n int64) { t[m] += n }

// top returns the method that moved the most bytes, or def if none did.
func (t methodTally) top(def zerocopy.Method) zerocopy.Method {
	best, most := def, int64(-1)
	for m, n := range t {
		if n > most || (n == most && m > best) {
			best, most = m, n
		}
	}
	return best
}

// ErrFailed reports a session that ran to its end but in which some files
// failed; Result.Failed lists them.
var ErrFailed = errors.New("some files failed")

// Merge adds up the results of the streams of one transfer.
func Merge(results []Result) Result {
	var m Result
	var most int64 = -1
	m.Verified = len(results) > 0
	for _, r := range results {
		m.Files += r.Files
		m.Bytes += r.Bytes
		m.BytesSent += r.BytesSent
		m.HoleBytes += r.HoleBytes
		m.Skipped += r.Skipped
		m.SkippedBytes += r.SkippedBytes
		m.Resumed += r.Resumed
		m.Dirs += r.Dirs
		m.Symlinks += r.Symlinks
		m.Hardlinks += r.Hardlinks
		m.Deleted += r.Deleted
		m.Failed = append(m.Failed, r.Failed...)
		m.Seconds = max(m.Seconds, r.Seconds)
		m.Verified = m.Verified && r.Verified
		if r.Kept != nil {
			m.Kept = r.Kept
		}
		m.DryRun = m.DryRun || r.DryRun
		m.ToSend += r.ToSend
		if r.BytesSent > most {
			most, m.Method = r.BytesSent, r.Method
		}
	}
	m.Streams = len(results)
	return m
}
