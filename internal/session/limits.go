package session

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/internal/proto"
)

// A receiver holds each session's manifest in memory from its first entry
// until the session ends: every entry, its plan, and the failures it
// reports. A manifest may have 10 million entries with 4 KiB paths, so
// that memory is counted as the entries arrive and bounded, per session
// and for all the sessions of a receiver together (issue 14). A session
// that would pass a bound is ended with an abort record that says which
// bound and how to raise it, at both ends.

// Default bounds of a receiver's manifest memory: a tree of 10 million
// files whose paths average up to ~150 bytes fits in either (each entry
// costs entryCost and its path, rounded up as the allocator does, and each
// directory keyCost: ~320 bytes an entry with paths of 70 bytes, the
// average under /usr here).
const (
	DefaultManifestMemory      = 4 << 30
	DefaultTotalManifestMemory = 4 << 30
)

// entryCost is what a receiver holds of every entry besides its path: its
// proto.Entry in the session's entries, 2.25 times over (when the slice
// grows by a quarter, the old array and the new one are both live until
// the copy is done), its plan and whether its body came (a byte each).
const entryCost = int64(unsafe.Sizeof(proto.Entry{}))*9/4 + 2

// keyCost is what a directory costs in a session's maps of directories
// made or found.
const keyCost = 64

// bytesCost is what n bytes of a string hold: rounded up as the
// allocator's size classes do, at most an eighth more.
func bytesCost(n int) int64 { return int64(n+n/8+15) &^ 15 }

// stringCost is what a string of n bytes in a slice holds: its bytes and
// its header.
func stringCost(n int) int64 { return bytesCost(n) + 16 }

// ErrLimit reports a session a receiver ended at one of its bounds: its
// memory for manifests (Memory), or MaxEntries. The text says which and
// how to raise it; the sender got the same in an abort.
var ErrLimit = errors.New("ended at a limit")

// Memory bounds what the manifests of a receiver's sessions hold: each
// session charges what it keeps of an entry as the entry arrives, and
// gives it all back when it ends. A session that would hold more than
// Session, or take the sessions together past Total, ends with ErrLimit.
// The zero Memory has the default bounds. It is safe for concurrent use.
type Memory struct {
	Session int64 // the most one session may hold (DefaultManifestMemory if 0)
	Total   int64 // the most all sessions may hold together (DefaultTotalManifestMemory if 0)
	used    atomic.Int64
}

func (m *Memory) session() int64 { return cmp.Or(m.Session, DefaultManifestMemory) }

func (m *Memory) total() int64 { return cmp.Or(m.Total, DefaultTotalManifestMemory) }

// InUse returns the bytes the sessions hold now.
func (m *Memory) InUse() int64 { return m.used.Load() }

// ProcessLimit is the memory a process whose sessions share m, at most
// sessions of them at once, needs at most (bytes): 64 MiB for the program,
// 512 KiB for each session's buffers, and the manifests a quarter over
// Total, for the garbage their reading leaves. A receiver gives it to the
// Go runtime as its soft limit (debug.SetMemoryLimit): the garbage
// collector then works harder near it rather than let the heap double, so
// the process's resident memory stays under it.
func (m *Memory) ProcessLimit(sessions int) int64 {
	return 64<<20 + int64(sessions)*512<<10 + m.total()*5/4
}

// tally is one session's charge against a Memory.
type tally struct {
	m       *Memory
	held    int64
	entries int // entries charged, for the message
}

// take charges n bytes, or says which bound they would pass.
func (t *tally) take(n int64) (why string) {
	own := min(t.m.session(), t.m.total())
	if t.held+n > own {
		flag := "--manifest-memory"
		if t.m.total() < t.m.session() {
			flag = "--total-manifest-memory"
		}
		return fmt.Sprintf("the manifest needs more than %s of the receiver's memory (after %d entries), the most one transfer may hold there (its %s): raise that, or send the tree in parts",
			bytesize.Format(own), t.entries, flag)
	}
	if t.m.used.Add(n) > t.m.total() {
		t.m.used.Add(-n)
		return fmt.Sprintf("the receiver's memory for manifests (%s, its --total-manifest-memory) is taken by other transfers in flight: try again later, or raise that",
			bytesize.Format(t.m.total()))
	}
	t.held += n
	return ""
}

// release gives back all the session holds.
func (t *tally) release() {
	t.m.used.Add(-t.held)
	t.held = 0
}

type ctxKey int

const (
	memoryKey ctxKey = iota
	handshakeKey
)

// WithMemory returns a context under which Receive charges what it holds
// of its manifest to m; a session without one has a Memory of its own,
// with the default bounds.
func WithMemory(ctx context.Context, m *Memory) context.Context {
	return context.WithValue(ctx, memoryKey, m)
}

func memoryFrom(ctx context.Context) *Memory {
	if m, ok := ctx.Value(memoryKey).(*Memory); ok {
		return m
	}
	return &Memory{}
}

// WithHandshakeDone returns a context under which Receive calls done once
// its handshake is done: a server counts the connections that have not
// got that far. (Send calls its Source at that point.)
func WithHandshakeDone(ctx context.Context, done func()) context.Context {
	return context.WithValue(ctx, handshakeKey, done)
}

func handshakeDone(ctx context.Context) {
	if f, ok := ctx.Value(handshakeKey).(func()); ok {
		f()
	}
}

// Refuse tells the peer on conn that this end, in role, will not serve it
// now, and why: it shakes hands (so a peer without the token hears about
// the token, not the reason), then ends the session with an abort record.
// As a receiver it then reads and drops the manifest the sender is
// writing (see drainManifest), for at most the header timeout. It does
// not close conn. The error is the handshake's, if it failed.
func Refuse(ctx context.Context, conn net.Conn, role proto.Role, o Options, reason string) error {
	var res Result
	l, end, _, err := begin(ctx, conn, 4<<10, role, &o, &res)
	defer end()
	if err != nil {
		return err
	}
	conn, br := l.conn, l.br
	conn.SetWriteDeadline(time.Now().Add(o.headerTimeout()))
	if _, err := conn.Write(abortRecord(role, reason)); err != nil {
		return err
	}
	if role == proto.RoleReceiver {
		drainManifest(conn, br, o.headerTimeout())
	}
	return nil
}

// abortRecord is what ends a session at role's end: a sender's abort
// entry or a receiver's abort plan, each with the reason.
func abortRecord(role proto.Role, reason string) []byte {
	if role == proto.RoleSender {
		return (&proto.Entry{Kind: proto.KindAbort, Reason: reason}).Append(nil)
	}
	return (&proto.Plan{Action: proto.ActionAbort, Message: reason}).Append(nil)
}

// drainManifest reads and drops what is left of a manifest after the
// receiver sent an abort plan, until its end, for at most d in all. A
// zcopy sender writes its whole manifest before it looks at the plan
// reader's error, and a sender whose writes met a closed connection would
// report the reset instead of the reason; reading the rest costs no
// memory.
func drainManifest(conn net.Conn, br *bufio.Reader, d time.Duration) {
	conn.SetReadDeadline(time.Now().Add(d))
	for range proto.MaxEntries {
		if e, err := proto.ReadEntry(br); err != nil || e.Kind == proto.KindEnd {
			return
		}
	}
}
