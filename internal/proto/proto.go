// Package proto is zcopy's wire format for framed transfers: the records
// that the two ends exchange, each with an encoder and a decoder that checks
// every length and value before it trusts it. docs/PROTOCOL.md describes the
// same format for readers of the wire.
//
// Decoders read from a *bufio.Reader and return an error wrapping
// ErrMalformed for anything that is not a valid record; they never allocate
// more than the limits below, whatever the input.
package proto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version this package speaks. Version 2 added
// Entry.Source, which ties a receiver's part file to the version of the
// file it holds the start of; version 3 added StatusChanged; version 4
// changed the token's proof (the client proves first, the server only once
// it has checked that proof, and a proof covers the role, the position and
// both nonces: session/auth.go); version 5 runs the session inside TLS 1.3
// unless both ends are --plaintext (FlagTLS), and binds the proof to the
// TLS session; version 6 adds sparse bodies (DataHeader.Sparse, Extent),
// whose holes do not cross the wire; version 7 puts the hash of the whole
// file in the trailer of every resumed file, which the receiver checks
// (a part's record does not prove its bytes are the file's start).
const Version = 7

// Limits on what a decoder accepts.
const (
	MaxPath    = 4096     // bytes in a relative path or a symlink target
	MaxName    = 255      // bytes in one path component
	MaxMessage = 4096     // bytes in a message
	MaxEntries = 10000000 // entries in one manifest
)

// Magic numbers that open records and let a reader notice that it has lost
// its place in the stream (a sender that lied about a size).
var (
	HelloMagic   = [4]byte{'Z', 'C', 'P', 'Y'}
	DataMagic    = [4]byte{'Z', 'D', 'A', 'T'}
	TrailerMagic = [4]byte{'Z', 'E', 'N', 'D'}
	FinMagic     = [4]byte{'Z', 'F', 'I', 'N'}
	// SparseMagic opens a DataHeader whose body is a run of Extents.
	SparseMagic = [4]byte{'Z', 'S', 'P', 'R'}
	// ExtentMagic and HoleMagic open an Extent: bytes that follow, or a
	// hole (zeros that do not cross the wire).
	ExtentMagic = [4]byte{'Z', 'E', 'X', 'T'}
	HoleMagic   = [4]byte{'Z', 'H', 'O', 'L'}
)

// ErrMalformed reports a record that does not follow the protocol.
var ErrMalformed = errors.New("malformed record")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// Role says which end of a transfer a side is.
type Role uint8

// The two roles.
const (
	RoleSender   Role = 1
	RoleReceiver Role = 2
)

func (r Role) String() string {
	switch r {
	case RoleSender:
		return "sender"
	case RoleReceiver:
		return "receiver"
	}
	return fmt.Sprintf("role %d", uint8(r))
}

// Hello flags.
const (
	FlagVerify = 1 << 0 // the side wants end-to-end hashes
	FlagAuth   = 1 << 1 // the side has a token and will prove it
	// FlagTLS says that the side runs the session inside TLS. Inside TLS
	// both ends set it; in the clear, an encrypted end sets it in the
	// Hello with which it refuses a --plaintext peer.
	FlagTLS = 1 << 2
	// FlagDryRun (version 6, a sender's only) asks the receiver to plan
	// the manifest without making or writing anything; no body follows.
	FlagDryRun = 1 << 3
	// FlagDelete (version 6, a sender's only) asks the receiver to remove,
	// under each directory of the manifest, what the manifest does not
	// name; a receiver does so only if it was started allowing it.
	FlagDelete = 1 << 4
	// FlagOwner (version 6, a sender's only) says that an Owner record
	// follows every file, directory, symlink and range entry.
	FlagOwner = 1 << 5
)

// HelloSize is the encoded size of a Hello.
const HelloSize = 32

// Hello opens a connection; both sides send one.
type Hello struct {
	Version uint16
	Role    Role
	Flags   uint8
	Nonce   [16]byte
	// Group ties the connections of one transfer spread over several
	// streams: the side that opens them sets a random non-zero Group and
	// each connection's Stream index out of Streams; a single connection,
	// and the other side, send zeros.
	Group   uint32
	Stream  uint8
	Streams uint8
}

// Append appends h's encoding to b.
func (h *Hello) Append(b []byte) []byte {
	b = append(b, HelloMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, h.Version)
	b = append(b, byte(h.Role), h.Flags)
	b = append(b, h.Nonce[:]...)
	b = binary.BigEndian.AppendUint32(b, h.Group)
	return append(b, h.Stream, h.Streams, 0, 0)
}

// ReadHello decodes a Hello. It checks the magic only: the caller decides
// what versions and roles it accepts.
func ReadHello(r *bufio.Reader) (Hello, error) {
	var b [HelloSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Hello{}, eof(err)
	}
	if [4]byte(b[:4]) != HelloMagic {
		return Hello{}, malformed("not a zcopy peer (bad magic %q)", b[:4])
	}
	h := Hello{Version: binary.BigEndian.Uint16(b[4:]), Role: Role(b[6]), Flags: b[7]}
	copy(h.Nonce[:], b[8:24])
	h.Group = binary.BigEndian.Uint32(b[24:])
	h.Stream, h.Streams = b[28], b[29]
	if h.Group != 0 && (h.Streams < 2 || h.Stream >= h.Streams) || h.Group == 0 && (h.Stream|h.Streams) != 0 {
		return Hello{}, malformed("stream %d of %d in group %d", h.Stream, h.Streams, h.Group)
	}
	return h, nil
}

// ProofSize is the size of an authentication proof (HMAC-SHA256).
const ProofSize = 32

// Verdict is an end's answer in the handshake: whether it accepts the
// other's Hello, or (with a token) the other's proof, and if not, why.
type Verdict struct {
	OK      bool
	Message string
}

// Append appends v's encoding to b.
func (v *Verdict) Append(b []byte) []byte {
	ok := byte(1)
	if v.OK {
		ok = 0
	}
	return appendString(append(b, ok), v.Message, MaxMessage)
}

// ReadVerdict decodes a Verdict.
func ReadVerdict(r *bufio.Reader) (Verdict, error) {
	ok, err := r.ReadByte()
	if err != nil {
		return Verdict{}, eof(err)
	}
	if ok > 1 {
		return Verdict{}, malformed("verdict %d", ok)
	}
	msg, err := readString(r, MaxMessage)
	return Verdict{OK: ok == 0, Message: msg}, err
}

// Kind is the kind of a manifest entry.
type Kind uint8

// Entry kinds. KindEnd closes the manifest.
const (
	KindEnd     Kind = 0
	KindFile    Kind = 1
	KindDir     Kind = 2
	KindSymlink Kind = 3
	// KindRange is one byte range of a file that is spread over several
	// streams; the ranges of a file, over all the streams of a group,
	// cover it exactly once.
	KindRange Kind = 4
	// KindOmitted names something under the paths the sender was given
	// that it cannot send (a directory it cannot list, a file that
	// vanished, a name the protocol cannot carry). Path is only for
	// people to read: it is not checked as a path and never used as one.
	// Reason says why. The receiver answers ActionFail, so both ends
	// count it as not delivered.
	KindOmitted Kind = 5
	// KindAbort ends the manifest and the session: the sender will not go
	// on, and Reason says why (it serves as many sessions as it may).
	// ReadEntry returns it as an *AbortError.
	KindAbort Kind = 6
	// KindHardlink (version 6) is another name of a file sent earlier in
	// the same manifest: Link is that file's entry's index. It carries no
	// body; the receiver links it once the file is in place.
	KindHardlink Kind = 7
)

var kindNames = [...]string{KindEnd: "end", KindFile: "file", KindDir: "dir", KindSymlink: "symlink", KindRange: "range", KindOmitted: "omitted", KindAbort: "abort", KindHardlink: "hardlink"}

func (k Kind) String() string { return enumName(kindNames[:], uint8(k), "kind") }

// enumName returns names[v], or what and v where names has no name for v.
func enumName(names []string, v uint8, what string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s %d", what, v)
}

// Entry is one item of the manifest the sender sends first.
type Entry struct {
	Kind Kind
	Path string // relative, '/'-separated; checked by CheckPath
	Mode uint32 // permission bits (0o7777)
	// Link, of a hard link only, is the index of the file entry it is
	// another name of. (Beside Mode, it takes what was padding: a
	// receiver charges every entry's size against its memory bound.)
	Link  uint32
	MTime int64 // modification time, Unix nanoseconds
	Size  int64 // files and ranges: the whole file's size
	// Source identifies the sender's file independently of its name and
	// contents (a hash of its device and inode on Unix; 0 where unknown):
	// with Size and MTime it names the version of the file a receiver's
	// part holds the start of, so a part is continued only with bytes of
	// the same version. Files and ranges only.
	Source uint64
	Target string // symlinks only
	Offset int64  // ranges only: where the range starts
	Length int64  // ranges only: how long it is
	Reason string // omitted entries only: why the sender left it out; abort entries: why it stops
}

// AbortError is what ReadEntry and ReadPlan return for an abort record:
// the peer ended the session and said why (a limit of its own that the
// session would pass, or that it serves as many sessions as it may).
type AbortError struct {
	Role   Role // the peer's
	Reason string
}

func (e *AbortError) Error() string {
	return fmt.Sprintf("the %v ended the session: %s", e.Role, e.Reason)
}

// Append appends e's encoding to b.
func (e *Entry) Append(b []byte) []byte {
	b = append(b, byte(e.Kind))
	switch e.Kind {
	case KindEnd:
		return b
	case KindOmitted:
		b = appendString(b, e.Path, MaxPath)
		return appendString(b, e.Reason, MaxMessage)
	case KindAbort:
		return appendString(b, e.Reason, MaxMessage)
	case KindHardlink:
		b = appendString(b, e.Path, MaxPath)
		return binary.BigEndian.AppendUint32(b, e.Link)
	}
	b = appendString(b, e.Path, MaxPath)
	b = binary.BigEndian.AppendUint32(b, e.Mode)
	b = binary.BigEndian.AppendUint64(b, uint64(e.MTime))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Size))
	switch e.Kind {
	case KindFile:
		b = binary.BigEndian.AppendUint64(b, e.Source)
	case KindSymlink:
		b = appendString(b, e.Target, MaxPath)
	case KindRange:
		b = binary.BigEndian.AppendUint64(b, e.Source)
		b = binary.BigEndian.AppendUint64(b, uint64(e.Offset))
		b = binary.BigEndian.AppendUint64(b, uint64(e.Length))
	}
	return b
}

// ReadEntry decodes an Entry and checks its path.
func ReadEntry(r *bufio.Reader) (Entry, error) {
	k, err := r.ReadByte()
	if err != nil {
		return Entry{}, eof(err)
	}
	e := Entry{Kind: Kind(k)}
	switch e.Kind {
	case KindEnd:
		return e, nil
	case KindFile, KindDir, KindSymlink, KindRange:
	case KindOmitted:
		if e.Path, err = readString(r, MaxPath); err != nil {
			return Entry{}, err
		}
		e.Reason, err = readString(r, MaxMessage)
		return e, err
	case KindAbort:
		why, err := readString(r, MaxMessage)
		if err != nil {
			return Entry{}, err
		}
		return Entry{}, &AbortError{Role: RoleSender, Reason: why}
	case KindHardlink:
		if e.Path, err = readString(r, MaxPath); err != nil {
			return Entry{}, err
		}
		if err := CheckPath(e.Path); err != nil {
			return Entry{}, err
		}
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Entry{}, eof(err)
		}
		e.Link = binary.BigEndian.Uint32(b[:])
		return e, nil
	default:
		return Entry{}, malformed("unknown entry kind %d", k)
	}
	if e.Path, err = readString(r, MaxPath); err != nil {
		return Entry{}, err
	}
	if err := CheckPath(e.Path); err != nil {
		return Entry{}, err
	}
	var b [20]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Entry{}, eof(err)
	}
	e.Mode = binary.BigEndian.Uint32(b[:])
	e.MTime = int64(binary.BigEndian.Uint64(b[4:]))
	e.Size = int64(binary.BigEndian.Uint64(b[12:]))
	if e.Mode&^0o7777 != 0 {
		return Entry{}, malformed("%s: mode %#o has more than permission bits", e.Path, e.Mode)
	}
	if e.Size < 0 || (e.Kind != KindFile && e.Kind != KindRange && e.Size != 0) {
		return Entry{}, malformed("%s: size %d for a %v", e.Path, e.Size, e.Kind)
	}
	switch e.Kind {
	case KindFile:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Entry{}, eof(err)
		}
		e.Source = binary.BigEndian.Uint64(b[:])
	case KindSymlink:
		if e.Target, err = readString(r, MaxPath); err != nil {
			return Entry{}, err
		}
		if e.Target == "" || containsNUL(e.Target) {
			return Entry{}, malformed("%s: bad symlink target", e.Path)
		}
	case KindRange:
		var b [24]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Entry{}, eof(err)
		}
		e.Source = binary.BigEndian.Uint64(b[:])
		e.Offset = int64(binary.BigEndian.Uint64(b[8:]))
		e.Length = int64(binary.BigEndian.Uint64(b[16:]))
		if e.Offset < 0 || e.Length <= 0 || e.Offset > e.Size || e.Length > e.Size-e.Offset {
			return Entry{}, malformed("%s: range %d+%d of a file of %d bytes", e.Path, e.Offset, e.Length, e.Size)
		}
	}
	return e, nil
}

// OwnerSize is the encoded size of an Owner record.
const OwnerSize = 8

// Owner is the numeric owner and group of the entry before it (with
// FlagOwner).
type Owner struct{ UID, GID uint32 }

// Owned reports whether an entry of kind k is followed by an Owner record
// when the sender set FlagOwner.
func (k Kind) Owned() bool {
	return k == KindFile || k == KindDir || k == KindSymlink || k == KindRange
}

// Append appends o's encoding to b.
func (o *Owner) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, o.UID)
	return binary.BigEndian.AppendUint32(b, o.GID)
}

// ReadOwner decodes an Owner record.
func ReadOwner(r *bufio.Reader) (Owner, error) {
	var b [OwnerSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Owner{}, eof(err)
	}
	return Owner{UID: binary.BigEndian.Uint32(b[:]), GID: binary.BigEndian.Uint32(b[4:])}, nil
}

// Action is the receiver's plan for one entry.
type Action uint8

// Plan actions.
const (
	ActionSend   Action = 0 // send the file from Offset
	ActionSkip   Action = 1 // the receiver has it already (same size and mtime)
	ActionRefuse Action = 2 // it exists and differs; overwrite was not asked
	ActionFail   Action = 3 // the receiver cannot take it; Message says why
	ActionDone   Action = 4 // a directory or symlink, made by the receiver
	// ActionAbort ends the session instead of answering the entry: the
	// receiver will not go on, and Message says why (a limit of its own
	// that the manifest passes, or that it serves as many sessions as it
	// may). ReadPlan returns it as an *AbortError.
	ActionAbort Action = 5
)

var actionNames = [...]string{ActionSend: "send", ActionSkip: "skip", ActionRefuse: "refuse", ActionFail: "fail", ActionDone: "done", ActionAbort: "abort"}

func (a Action) String() string { return enumName(actionNames[:], uint8(a), "action") }

// Plan is the receiver's answer to one manifest entry, in manifest order.
type Plan struct {
	Action  Action
	Offset  int64
	Message string
}

// Append appends p's encoding to b.
func (p *Plan) Append(b []byte) []byte {
	b = append(b, byte(p.Action))
	b = binary.BigEndian.AppendUint64(b, uint64(p.Offset))
	return appendString(b, p.Message, MaxMessage)
}

// ReadPlan decodes a Plan.
func ReadPlan(r *bufio.Reader) (Plan, error) {
	var b [9]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Plan{}, eof(err)
	}
	p := Plan{Action: Action(b[0]), Offset: int64(binary.BigEndian.Uint64(b[1:]))}
	if p.Action > ActionAbort {
		return Plan{}, malformed("unknown action %d", b[0])
	}
	if p.Offset < 0 || (p.Action != ActionSend && p.Offset != 0) {
		return Plan{}, malformed("offset %d for %v", p.Offset, p.Action)
	}
	var err error
	p.Message, err = readString(r, MaxMessage)
	if err == nil && p.Action == ActionAbort {
		return Plan{}, &AbortError{Role: RoleReceiver, Reason: p.Message}
	}
	return p, err
}

// DataHeaderSize is the encoded size of a DataHeader.
const DataHeaderSize = 24

// DataHeader precedes a file's body in the data phase.
type DataHeader struct {
	Index  uint32 // the entry's position in the manifest
	Offset int64  // where in the file the body starts
	Length int64  // the body's length: the bytes of the file it stands for
	// Sparse (version 6) says the body is a run of Extents, each data or
	// a hole, whose lengths add up to Length; otherwise it is Length
	// bytes.
	Sparse bool
}

// Append appends h's encoding to b.
func (h *DataHeader) Append(b []byte) []byte {
	if h.Sparse {
		b = append(b, SparseMagic[:]...)
	} else {
		b = append(b, DataMagic[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, h.Index)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Offset))
	return binary.BigEndian.AppendUint64(b, uint64(h.Length))
}

// ReadDataHeader decodes a DataHeader; fin reports the FinMagic that ends
// the data phase instead.
func ReadDataHeader(r *bufio.Reader) (h DataHeader, fin bool, err error) {
	m, err := r.Peek(4)
	if err != nil {
		return h, false, eof(err)
	}
	if [4]byte(m) == FinMagic {
		r.Discard(4)
		return h, true, nil
	}
	var b [DataHeaderSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return h, false, eof(err)
	}
	if m := [4]byte(b[:4]); m != DataMagic && m != SparseMagic {
		return h, false, malformed("expected a data header, got %q", b[:4])
	}
	h = DataHeader{
		Index:  binary.BigEndian.Uint32(b[4:]),
		Offset: int64(binary.BigEndian.Uint64(b[8:])),
		Length: int64(binary.BigEndian.Uint64(b[16:])),
		Sparse: [4]byte(b[:4]) == SparseMagic,
	}
	if h.Offset < 0 || h.Length < 0 || h.Offset+h.Length < 0 {
		return h, false, malformed("data header offset %d length %d", h.Offset, h.Length)
	}
	return h, false, nil
}

// ExtentSize is the encoded size of an Extent's record.
const ExtentSize = 12

// Extent is one piece of a sparse body: Length bytes of the file that
// follow the record, or, with Hole, Length bytes of zeros that do not.
type Extent struct {
	Hole   bool
	Length int64
}

// Append appends x's encoding to b.
func (x *Extent) Append(b []byte) []byte {
	if x.Hole {
		b = append(b, HoleMagic[:]...)
	} else {
		b = append(b, ExtentMagic[:]...)
	}
	return binary.BigEndian.AppendUint64(b, uint64(x.Length))
}

// ReadExtent decodes an Extent of a sparse body of which left bytes are
// still to come. An extent must hold at least one byte and no more than
// left: the extents of a body add up to its header's Length, so a sender
// cannot make a receiver write or extend a file past the size it
// announced, nor loop on empty records.
func ReadExtent(r *bufio.Reader, left int64) (Extent, error) {
	var b [ExtentSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Extent{}, eof(err)
	}
	m := [4]byte(b[:4])
	if m != ExtentMagic && m != HoleMagic {
		return Extent{}, malformed("expected an extent of a sparse body, got %q", b[:4])
	}
	x := Extent{Hole: m == HoleMagic, Length: int64(binary.BigEndian.Uint64(b[4:]))}
	if x.Length <= 0 || x.Length > left {
		return Extent{}, malformed("extent of %d bytes where %d remain of the body", x.Length, left)
	}
	return x, nil
}

// Trailer statuses.
const (
	StatusOK        uint8 = 0 // the body is the file's bytes
	StatusTruncated uint8 = 1 // the source shrank: the body was padded and is not the file
	StatusReadError uint8 = 2 // the source could not be read: the body was padded
	// StatusChanged: the source was written while it was sent, so the body
	// may mix old and new bytes. Hash is then the XXH3-128 of the file's
	// first Size bytes as they are after the send (zero for a range, which
	// cannot be checked alone): the receiver keeps the file only if what it
	// received hashes the same, as it does for a file that only grew.
	StatusChanged uint8 = 3
)

// TrailerSize is the encoded size of a Trailer.
const TrailerSize = 21

// Trailer follows a file's body.
type Trailer struct {
	Status uint8
	Hash   [16]byte // XXH3-128 of the whole file when verifying, else zero
}

// Append appends t's encoding to b.
func (t *Trailer) Append(b []byte) []byte {
	b = append(b, TrailerMagic[:]...)
	b = append(b, t.Status)
	return append(b, t.Hash[:]...)
}

// ReadTrailer decodes a Trailer. A wrong magic means the body was not the
// length its header declared.
func ReadTrailer(r *bufio.Reader) (Trailer, error) {
	var b [TrailerSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Trailer{}, eof(err)
	}
	return ParseTrailer(b[:])
}

// ParseTrailer decodes a Trailer from the first TrailerSize bytes of b,
// for a reader that has the whole record in hand.
func ParseTrailer(b []byte) (Trailer, error) {
	if len(b) < TrailerSize {
		return Trailer{}, io.ErrUnexpectedEOF
	}
	if [4]byte(b[:4]) != TrailerMagic {
		return Trailer{}, malformed("the body did not end where its header said (got %q where a trailer belongs)", b[:4])
	}
	t := Trailer{Status: b[4]}
	if t.Status > StatusChanged {
		return Trailer{}, malformed("trailer status %d", t.Status)
	}
	copy(t.Hash[:], b[5:])
	return t, nil
}

// Failure names one entry that the receiver could not complete.
type Failure struct {
	Index   uint32
	Message string
}

// Summary is the receiver's last word: what failed.
type Summary struct {
	Failures []Failure
}

// MaxFailures bounds the failures one Summary may list.
const MaxFailures = MaxEntries

// Append appends s's encoding to b.
func (s *Summary) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Failures)))
	for _, f := range s.Failures {
		b = binary.BigEndian.AppendUint32(b, f.Index)
		b = appendString(b, f.Message, MaxMessage)
	}
	return b
}

// ReadSummary decodes a Summary.
func ReadSummary(r *bufio.Reader) (Summary, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Summary{}, eof(err)
	}
	n := binary.BigEndian.Uint32(b[:])
	if n > MaxFailures {
		return Summary{}, malformed("%d failures", n)
	}
	var s Summary
	for range n {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Summary{}, eof(err)
		}
		msg, err := readString(r, MaxMessage)
		if err != nil {
			return Summary{}, err
		}
		s.Failures = append(s.Failures, Failure{Index: binary.BigEndian.Uint32(b[:]), Message: msg})
	}
	return s, nil
}

// appendString appends a length-prefixed string, cut to max bytes.
func appendString(b []byte, s string, max int) []byte {
	if len(s) > max {
		s = s[:max]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func readString(r *bufio.Reader, max int) (string, error) {
	var b [2]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", eof(err)
	}
	n := int(binary.BigEndian.Uint16(b[:]))
	if n > max {
		return "", malformed("string of %d bytes (at most %d)", n, max)
	}
	s := make([]byte, n)
	if _, err := io.ReadFull(r, s); err != nil {
		return "", eof(err)
	}
	return string(s), nil
}

// eof turns a clean EOF in the middle of a record into io.ErrUnexpectedEOF.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
