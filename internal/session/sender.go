package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// Small files travel in batches: under Auto (or ReadWrite) a body of at
// most smallFile bytes is read into the batch with its header and trailer,
// and the batch is written once it holds batchSize bytes. For bodies this
// small a sendfile call and its header write cost more system calls than
// the copy they save (as tar shows on trees of small files).
const (
	smallFile = 64 << 10
	batchSize = 256 << 10
)

// Source gives the items a session offers, once the handshake has said
// which stream of a group (if any) the peer opened this connection as.
type Source func(peer Stream) ([]tree.Item, error)

// Items is the Source that offers items whatever the peer.
func Items(items []tree.Item) Source {
	return func(Stream) ([]tree.Item, error) { return items, nil }
}

// Send runs the sender's side of a session over conn: it offers the items
// src gives, sends the bodies the receiver asks for, and reports what the
// receiver made of them. It does not close conn.
func Send(ctx context.Context, conn net.Conn, src Source, o Options) (res Result, err error) {
	l, end, peer, err := begin(ctx, conn, 64<<10, proto.RoleSender, &o, &res)
	defer end()
	if err != nil {
		return res, err
	}
	conn = l.conn
	s := &sender{ctx: ctx, conn: conn, br: l.br, o: &o, verify: res.Verified, res: &res, methods: methodTally{}}
	defer func() { res.Method = s.methods.top(o.Method) }()
	if s.items, err = offer(src, peer); err != nil {
		return res, err
	}
	if err = s.sendManifest(); err != nil {
		return res, err
	}
	s.countPlans()
	if o.DryRun {
		res.DryRun = true
		if o.OnPlan != nil {
			for i := range s.items {
				o.OnPlan(s.items[i].Entry, s.plans[i])
			}
		}
	}
	conn.SetDeadline(time.Time{})
	if err = s.sendBodies(); err != nil {
		return res, err
	}
	err = s.readSummary()
	return res, err
}

// offer asks src for the items to offer a peer that opened this
// connection as one stream of a group, if its Hello says so.
func offer(src Source, peer proto.Hello) ([]tree.Item, error) {
	var ps Stream
	if peer.Group != 0 {
		ps = Stream{Group: peer.Group, Index: int(peer.Stream), Count: int(peer.Streams)}
	}
	items, err := src(ps)
	if err != nil {
		return nil, err
	}
	if len(items) > proto.MaxEntries {
		return nil, fmt.Errorf("%d entries: at most %d in one transfer", len(items), proto.MaxEntries)
	}
	return items, nil
}

// sendManifest writes the manifest while a goroutine reads the receiver's
// plans: the receiver plans each entry as it arrives, so its planning
// overlaps our writing, and neither end can block the other.
func (s *sender) sendManifest() error {
	s.plans = make([]proto.Plan, len(s.items))
	planned := make(chan error, 1)
	go func() { planned <- s.readPlans() }()
	bw := bufio.NewWriterSize(s.conn, 256<<10)
	var rec []byte
	for i := range s.items {
		rec = s.items[i].Append(rec[:0])
		if s.o.Owner && s.items[i].Kind.Owned() {
			rec = s.items[i].Owner.Append(rec)
		}
		bw.Write(rec)
	}
	bw.Write((&proto.Entry{Kind: proto.KindEnd}).Append(rec[:0]))
	s.conn.SetWriteDeadline(time.Now().Add(s.o.idleTimeout()))
	werr := bw.Flush()
	if werr != nil {
		s.conn.SetReadDeadline(time.Unix(1, 0)) // stop the plan reader
	}
	if err := <-planned; err != nil || werr != nil {
		if werr != nil {
			err = fmt.Errorf("sending the manifest: %w", werr)
		}
		return ctxErr(s.ctx, err)
	}
	return nil
}

// readPlans reads the receiver's plan for every item, checking that a
// body it asks for lies within the item.
func (s *sender) readPlans() error {
	for i := range s.plans {
		s.conn.SetReadDeadline(time.Now().Add(s.o.idleTimeout()))
		p, err := proto.ReadPlan(s.br)
		if err != nil {
			return fmt.Errorf("reading the receiver's plan: %w", err)
		}
		it := &s.items[i]
		if p.Action == proto.ActionSend && !(it.Kind == proto.KindFile && p.Offset <= it.Size || it.Kind == proto.KindRange && p.Offset == 0) {
			return fmt.Errorf("receiver's plan for %s: offset %d of a %v of %d bytes", it.Path, p.Offset, it.Kind, it.Size)
		}
		s.plans[i] = p
	}
	return nil
}

// countPlans counts what the plans say before any body moves: the bytes
// to send, the files skipped, and the items omitted or refused, which
// fail.
func (s *sender) countPlans() {
	for i, p := range s.plans {
		it := &s.items[i]
		if it.Kind == proto.KindOmitted {
			// Named only to be counted: the walk warned about it, and
			// it fails here whatever the receiver answered.
			s.res.Failed = append(s.res.Failed, fmt.Sprintf("%q: not sent: %s", it.Path, it.Reason))
			continue
		}
		switch p.Action {
		case proto.ActionSend:
			// The progress counts a resumed file from its start, its part
			// as done.
			s.prog.Total += bodyLength(it, p.Offset) + p.Offset
			s.prog.Done += p.Offset
			s.res.Resumed += p.Offset
			if counted(it) {
				s.prog.FileCount++
			}
		case proto.ActionSkip:
			if it.Kind == proto.KindFile || it.Offset == 0 {
				s.res.Skipped++
			}
		case proto.ActionRefuse, proto.ActionFail:
			s.res.Failed = append(s.res.Failed, fmt.Sprintf("%s: %s", it.Path, p.Message))
			verb := "refused"
			if p.Action == proto.ActionFail {
				verb = "could not take"
			}
			s.o.warn(fmt.Sprintf("%s: the receiver %s it: %s", it.Path, verb, p.Message))
		}
	}
}

// sendBodies sends the bodies the receiver asked for and the FinMagic
// that ends them, corked as one stream: each file's header leaves with
// the previous file's trailer and its own first bytes.
func (s *sender) sendBodies() error {
	uncork := func() {}
	if u, err := zerocopy.Cork(s.conn); err == nil {
		uncork = u
	}
	defer s.small.close()
	var pending []byte // records not yet written: trailers, headers, small bodies
	var err error
	for i := range s.items {
		if s.plans[i].Action != proto.ActionSend || s.o.DryRun {
			continue
		}
		s.prog.Name = s.items[i].Path
		if pending, err = s.sendBody(i, pending); err != nil {
			uncork()
			return s.explain(ctxErr(s.ctx, err))
		}
	}
	pending = append(pending, proto.FinMagic[:]...)
	err = s.write(pending)
	uncork() // push the last partial segment now, not in 200 ms
	if err != nil {
		return s.explain(ctxErr(s.ctx, err))
	}
	return nil
}

// sendBody sends item i's body after pending: a small file joins the
// batch in pending, which is written once it is full; any other goes by
// the engine, and its trailer is left pending.
func (s *sender) sendBody(i int, pending []byte) ([]byte, error) {
	it, off := &s.items[i], s.plans[i].Offset
	if it.Kind == proto.KindFile && it.Size-off <= smallFile && (s.o.Method == zerocopy.Auto || s.o.Method == zerocopy.ReadWrite) {
		pending = s.appendSmall(pending, uint32(i), it, off)
		if len(pending) < min(batchSize, int(s.o.Limit.batch())) {
			return pending, nil
		}
		err := s.write(pending)
		s.o.Limit.wait(s.ctx, int64(len(pending)))
		return pending[:0], err
	}
	return s.sendFile(uint32(i), it, off, pending)
}

// readSummary reads the receiver's summary and counts the items that
// arrived. The error is ErrFailed (wrapped) if any item failed.
func (s *sender) readSummary() error {
	s.conn.SetReadDeadline(s.summaryDeadline())
	sum, err := proto.ReadSummary(s.br)
	if err != nil {
		return ctxErr(s.ctx, fmt.Errorf("reading the receiver's summary: %w", err))
	}
	failed, err := s.summaryFailures(sum)
	if err != nil {
		return err
	}
	s.countArrived(failed)
	if len(s.res.Failed) > 0 {
		return fmt.Errorf("%w: %d of %d entries", ErrFailed, len(s.res.Failed), len(s.items))
	}
	return nil
}

// summaryFailures records the items the summary says failed at the
// receiver, by index; a failure of the whole session is an error.
func (s *sender) summaryFailures(sum proto.Summary) (map[uint32]bool, error) {
	failed := map[uint32]bool{}
	for _, f := range sum.Failures {
		if f.Index == SessionFailure {
			return nil, fmt.Errorf("the receiver failed: %s", f.Message)
		}
		if int(f.Index) >= len(s.items) {
			return nil, fmt.Errorf("receiver's summary names entry %d of %d", f.Index, len(s.items))
		}
		failed[f.Index] = true
		s.res.Failed = append(s.res.Failed, fmt.Sprintf("%s: %s", s.items[f.Index].Path, f.Message))
		s.o.warn(fmt.Sprintf("%s: failed at the receiver: %s", s.items[f.Index].Path, f.Message))
	}
	return failed, nil
}

// countArrived counts the files, directories and symlinks the receiver
// has now: those sent or already there, and not failed.
func (s *sender) countArrived(failed map[uint32]bool) {
	for i := range s.items {
		it := &s.items[i]
		if failed[uint32(i)] || it.Kind == proto.KindOmitted {
			continue
		}
		switch s.plans[i].Action {
		case proto.ActionSend, proto.ActionSkip:
			// A file in ranges counts once, with its first range.
			if counted(it) {
				s.res.Files++
				s.res.Bytes += it.Size
				if s.plans[i].Action == proto.ActionSkip {
					s.res.SkippedBytes += it.Size
				}
				if s.o.DryRun && s.plans[i].Action == proto.ActionSend {
					s.res.ToSend++
				}
			}
		case proto.ActionDone:
			switch it.Kind {
			case proto.KindDir:
				s.res.Dirs++
			case proto.KindHardlink:
				s.res.Hardlinks++
			default:
				s.res.Symlinks++
			}
		}
	}
}

// verifyTime is how long the receiver may take to hash what it received
// before it answers (a generous 200 MB/s).
func verifyTime(verify bool, total int64) time.Duration {
	if !verify {
		return 0
	}
	return time.Duration(total/200e6+1) * time.Second
}

// sender is the sender's side of one session.
type sender struct {
	ctx     context.Context
	conn    net.Conn
	br      *bufio.Reader
	o       *Options
	verify  bool
	items   []tree.Item  // offered, in manifest order
	plans   []proto.Plan // the receiver's, by item
	done    int64        // body bytes sent
	prog    Progress     // for o.Progress: done and total also count the parts resumed
	res     *Result
	methods methodTally
	small   smallReader
	// peerHashing is until when the receiver may be hashing a file whose
	// trailer carried a hash, reading nothing meanwhile: write deadlines
	// reach at least that far.
	peerHashing time.Time
}

// writeDeadline is the deadline of the next write: the idle timeout, or
// later while the receiver may still be hashing a file (hashTime).
func (s *sender) writeDeadline() time.Time {
	d := time.Now().Add(s.o.idleTimeout())
	if s.peerHashing.After(d) {
		return s.peerHashing
	}
	return d
}

// summaryDeadline is how long the sender waits for the receiver's summary:
// the idle timeout, and the time to hash everything with --verify, or at
// least the last file the receiver hashes (a resumed one) before it
// answers.
func (s *sender) summaryDeadline() time.Time {
	d := time.Now().Add(s.o.idleTimeout() + verifyTime(s.verify, s.prog.Total))
	if s.peerHashing.After(d) {
		return s.peerHashing
	}
	return d
}

// hashTime is how long an end may take to hash a file of size bytes (a
// generous 200 MB/s, as verifyTime), during which its peer waits for it
// without a byte on the connection.
func hashTime(size int64) time.Duration {
	return time.Duration(size/200e6+1) * time.Second
}

// progress reports done body bytes sent in this session to o.Progress.
func (s *sender) progress(done int64) {
	if s.o.Progress != nil {
		p := s.prog
		p.Done += done
		s.o.Progress(p)
	}
}

// fileSent counts it's body as sent, for the progress.
func (s *sender) fileSent(it *tree.Item) {
	if counted(it) {
		s.prog.Files++
	}
	s.progress(s.done)
}

// counted reports whether it counts as a file of its own in the
// progress: a whole file, or the first range of one.
func counted(it *tree.Item) bool {
	return it.Kind == proto.KindFile || it.Kind == proto.KindRange && it.Offset == 0
}

func (s *sender) write(b []byte) error {
	s.conn.SetWriteDeadline(s.writeDeadline())
	_, err := s.conn.Write(b)
	return err
}

// sendFile sends one file's header and body and returns its trailer, to be
// written with the next header. A file that cannot be read whole is padded
// to its declared length and marked in the trailer, so the stream stays in
// step; only a connection error ends the session.
func (s *sender) sendFile(index uint32, it *tree.Item, off int64, pending []byte) ([]byte, error) {
	length := bodyLength(it, off)
	if it.Kind == proto.KindRange {
		off = it.Offset
	}
	tr := proto.Trailer{Status: proto.StatusOK}
	var before os.FileInfo
	f, err := it.Open() // beneath the root it was listed under, following no symlink
	if err == nil {
		// Send only the file that was listed: one replaced or rewritten
		// since would arrive under the listed size and mtime, and pass
		// for up to date ever after.
		if before, err = f.Stat(); err != nil || !it.Same(before) {
			f.Close()
			f, err = nil, &os.PathError{Op: "send", Path: it.Local, Err: errChanged}
		}
	}
	h := proto.DataHeader{Index: index, Offset: off, Length: length, Sparse: err == nil && length > 0 && mayHaveHoles(before)}
	if werr := s.write(h.Append(pending)); werr != nil {
		if f != nil {
			f.Close()
		}
		return nil, werr
	}
	var sent int64   // body bytes sent, of data
	var sp sparsePad // with h.Sparse: what the body still owes after an error
	if err == nil {
		if h.Sparse {
			sent, sp, err = s.sendSparse(f, off, length)
		} else {
			var st zerocopy.Stats
			st, err = zerocopy.SendFile(s.ctx, s.conn, f, off, length, s.sendOptions(s.done))
			sent = st.Bytes
			s.methods.add(st.Method, st.Bytes)
			s.done += sent
		}
		if err == nil {
			err = s.checkAfter(f, it, before, off > 0, &tr)
		}
		f.Close()
	}
	s.res.BytesSent += sent
	if err != nil {
		switch {
		case errors.Is(err, zerocopy.ErrTruncated), errors.Is(err, zerocopy.ErrRange):
			// ErrRange: the file shrank between the Stat above and the
			// engine's own.
			tr.Status = proto.StatusTruncated
		case isFileError(err):
			tr.Status = proto.StatusReadError
		default:
			return nil, err
		}
		if tr.Status != proto.StatusOK {
			s.o.warn(fmt.Sprintf("%s: %v", it.Local, err))
			// A broken lease leaves a past write deadline: reset it, then
			// pad the body to the length the header promised.
			s.conn.SetWriteDeadline(s.writeDeadline())
			if !h.Sparse {
				sp = sparsePad{owed: length - sent}
			}
			if err := s.pad(sp); err != nil {
				return nil, err
			}
		}
	}
	s.fileSent(it)
	if tr.Hash != ([16]byte{}) || it.Kind == proto.KindRange && s.verify {
		// The receiver hashes the file once it has the trailer (of a
		// file in ranges, the stream whose range completes it does).
		s.peerHashing = time.Now().Add(s.o.idleTimeout() + hashTime(it.Size))
	}
	return tr.Append(nil), nil
}

// sendOptions are the engine's options for a body of which the session
// had moved done bytes before it.
func (s *sender) sendOptions(done int64) *zerocopy.SendOptions {
	var paced int64
	return &zerocopy.SendOptions{
		Method:    s.o.Method,
		NoCork:    true,
		ChunkSize: s.o.Limit.chunk(),
		Progress: func(n int64) {
			s.o.Limit.wait(s.ctx, n-paced)
			paced = n
			s.conn.SetWriteDeadline(s.writeDeadline())
			s.progress(done + n)
		},
	}
}

// sparsePad is what a body cut short by an error still owes the receiver
// to stay in step: owed bytes (zeros) to finish the extent or dense body
// that was announced, then, in a sparse body, a hole of rest bytes.
type sparsePad struct{ owed, rest int64 }

// pad writes what p says the body still owes.
func (s *sender) pad(p sparsePad) error {
	if _, err := io.CopyN(s.conn, zeros{}, p.owed); err != nil {
		return err
	}
	s.done += p.owed
	if p.rest > 0 {
		s.done += p.rest
		return s.write((&proto.Extent{Hole: true, Length: p.rest}).Append(nil))
	}
	return nil
}

// sendSparse sends f's bytes from off to off+length as a sparse body
// (holes.go): a record for each hole, and a record then the bytes for
// each run of data, moved by the engine. It returns the data bytes sent
// and, with an error, what the body still owes.
func (s *sender) sendSparse(f *os.File, off, length int64) (sent int64, p sparsePad, err error) {
	end := off + length
	var rec []byte
	for pos := off; pos < end; {
		start, stop, _ := nextData(f, pos, end)
		rec = rec[:0]
		if start > pos {
			rec = (&proto.Extent{Hole: true, Length: start - pos}).Append(rec)
			s.res.HoleBytes += start - pos
			s.done += start - pos
			pos = start
		}
		if stop > pos {
			rec = (&proto.Extent{Length: stop - pos}).Append(rec)
		}
		if err := s.write(rec); err != nil {
			return sent, p, err
		}
		if stop <= pos {
			continue
		}
		st, err := zerocopy.SendFile(s.ctx, s.conn, f, pos, stop-pos, s.sendOptions(s.done))
		sent += st.Bytes
		s.done += st.Bytes
		s.methods.add(st.Method, st.Bytes)
		if err != nil {
			return sent, sparsePad{owed: stop - pos - st.Bytes, rest: end - stop}, err
		}
		pos = stop
	}
	return sent, p, nil
}

// checkAfter fills in tr for a body of f that was sent whole: the hash
// when verifying or when the body continues a part the receiver kept
// (resumed: the part must be this file's start, which its size and mtime
// alone do not prove), and StatusChanged when the file was written while
// it was sent (its size or mtime moved since before, tree.Changed). A
// changed whole file still gets the hash of its first it.Size bytes as
// they are now, so the receiver can keep it if that is what arrived (the
// file only grew); a changed range cannot be checked alone and fails. The
// error is the file's (hashing it failed), with tr's status set.
func (s *sender) checkAfter(f *os.File, it *tree.Item, before os.FileInfo, resumed bool, tr *proto.Trailer) error {
	after, err := f.Stat()
	if err != nil {
		tr.Status = proto.StatusReadError
		return err
	}
	changed := tree.Changed(before, after)
	if changed {
		tr.Status = proto.StatusChanged
		s.o.warn(fmt.Sprintf("%s: changed while it was sent (now %d bytes, modified %s); the receiver keeps it only if what arrived is its start as it is now",
			it.Local, after.Size(), after.ModTime().Format(time.RFC3339Nano)))
	}
	// The hash covers the whole file; of a file in ranges, only the range
	// at offset 0 carries it.
	whole := it.Kind == proto.KindFile
	if whole && (s.verify || changed || resumed) || !whole && s.verify && !changed && it.Offset == 0 {
		if tr.Hash, err = hashFile(f, it.Size); err != nil {
			tr.Status = proto.StatusReadError
			return err
		}
	}
	return nil
}

// appendSmall appends one small file's header, body and trailer to b. A
// file that cannot be read whole is padded and marked, as in sendFile.
func (s *sender) appendSmall(b []byte, index uint32, it *tree.Item, off int64) []byte {
	length := it.Size - off
	b = (&proto.DataHeader{Index: index, Offset: off, Length: length}).Append(b)
	start := len(b)
	b = append(b, make([]byte, length)...)
	body := b[start:]
	tr := proto.Trailer{Status: proto.StatusOK}
	n, err := s.small.readAt(it, body, off)
	s.res.BytesSent += int64(n)
	if err == nil && int64(n) < length {
		err = fmt.Errorf("%s: %w: %d of %d bytes read", it.Local, zerocopy.ErrTruncated, n, length)
	}
	if err == nil && (s.verify || off > 0) { // a resumed file is always checked whole
		if off == 0 {
			tr.Hash = xxh3Sum(body)
		} else {
			tr.Hash, err = hashItem(it)
		}
	}
	clear(body[n:])
	if err != nil {
		s.o.warn(err.Error())
		switch {
		case errors.Is(err, zerocopy.ErrTruncated):
			tr.Status = proto.StatusTruncated
		case errors.Is(err, errChangedWhileSent):
			tr.Status, tr.Hash = proto.StatusChanged, [16]byte{}
		default:
			tr.Status = proto.StatusReadError
		}
	}
	s.methods.add(zerocopy.ReadWrite, length)
	s.done += length
	s.fileSent(it)
	return tr.Append(b)
}

// bodyLength is the length of the body an item sends, planned from off.
func bodyLength(it *tree.Item, off int64) int64 {
	if it.Kind == proto.KindRange {
		return it.Length
	}
	return it.Size - off
}

// errChanged is why a file that changed between the listing and its turn
// is not sent.
var errChanged = errors.New("the file changed since it was listed (replaced or rewritten); not sent")

// errChangedWhileSent is why a small file written while it was read is
// marked StatusChanged without a hash: its body may mix versions.
var errChangedWhileSent = errors.New("the file changed while it was read; the copy may mix old and new bytes")

// isFileError reports an error about the source file rather than the
// connection: a failed open, stat or read of ours (an *os.PathError), or
// one the engine says was the file's (a *zerocopy.FileError). Anything
// else, a connection's error above all, ends the session.
func isFileError(err error) bool {
	var pe *os.PathError
	var fe *zerocopy.FileError
	return errors.As(err, &fe) || errors.As(err, &pe)
}

// explain adds the receiver's reason to a failed data phase: a receiver
// that gives up (disk full, a protocol error) sends its summary before it
// closes.
func (s *sender) explain(err error) error {
	s.conn.SetReadDeadline(time.Now().Add(time.Second))
	if sum, rerr := proto.ReadSummary(s.br); rerr == nil && len(sum.Failures) > 0 {
		return fmt.Errorf("%w; the receiver said: %s", err, sum.Failures[len(sum.Failures)-1].Message)
	}
	return err
}

// ctxErr prefers the context's error when the context ended the session.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}
