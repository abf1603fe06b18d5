package session

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// SessionFailure is the index a Summary failure carries when the session
// as a whole failed rather than one entry.
const SessionFailure = ^uint32(0)

// PartSuffix marks a file that is still arriving (or was interrupted):
// the bytes from its start, so a resume can continue after them. Package
// part owns such files.
const PartSuffix = part.Suffix

// RangesSuffix marks a file that is arriving in ranges over several
// streams. Its ranges arrive in any order, so it has holes until it is
// complete, and a resume never continues it.
const RangesSuffix = part.RangesSuffix

// maxHeld bounds the parts a session holds from its plan to their bodies
// (existing parts it found while planning): one a file it resumes or
// takes over. Beyond it, a part is taken when its body arrives.
const maxHeld = 256

// Receive runs the receiver's side of a session over conn, writing under
// root. It does not close conn. The error is ErrFailed (wrapped) when the
// session ran to its end with some files failed, and any other error when
// the session itself failed (the peer broke the protocol, went silent or
// went away).
func Receive(ctx context.Context, conn net.Conn, root *os.Root, o Options) (res Result, err error) {
	l, end, peer, err := begin(ctx, conn, 256<<10, proto.RoleReceiver, &o, &res)
	defer end()
	if err != nil {
		return res, err
	}
	conn = l.conn
	handshakeDone(ctx)
	r := &receiver{ctx: ctx, conn: conn, br: l.br, root: root, o: &o, verify: res.Verified, res: &res, made: map[string]bool{}, fresh: map[string]bool{}, methods: methodTally{}}
	r.dry = peer.Flags&proto.FlagDryRun != 0
	r.delete = peer.Flags&proto.FlagDelete != 0 && o.Delete
	r.owned = peer.Flags&proto.FlagOwner != 0 && o.Owner
	res.DryRun = r.dry
	r.tally.m = memoryFrom(ctx)
	defer r.tally.release()
	defer func() { res.Method = r.methods.top(o.Method) }()
	defer r.closeDirs()
	if peer.Group == 0 && o.Stream.Count > 1 {
		// We opened the streams (a fetch over several connections).
		peer.Group, peer.Stream, peer.Streams = o.Stream.Group, uint8(o.Stream.Index), uint8(o.Stream.Count)
	}
	if peer.Group != 0 {
		// One stream of several: files may arrive in ranges, and the
		// directories are finished when the last stream ends.
		groups := o.Groups
		if groups == nil {
			groups = &Groups{}
		}
		r.group = groups.join(peerHost(conn), peer)
		res.Streams = int(peer.Streams)
		var dirWork func()
		defer func() {
			// The last stream reports the files the group could not
			// complete, which no stream had failed.
			lost := r.group.end(groups, dirWork, err != nil && !errors.Is(err, ErrFailed))
			for _, p := range lost {
				msg := p + ": " + rangesLost
				o.warn(msg)
				res.Failed = append(res.Failed, msg)
			}
			if len(lost) > 0 && err == nil {
				err = fmt.Errorf("%w: %d of the files that arrive in ranges never arrived whole", ErrFailed, len(lost))
			}
		}()
		defer func() {
			if err == nil || errors.Is(err, ErrFailed) {
				dirWork = r.dirWork(func(i int, msg string) { o.warn(r.entries[i].Path + ": " + msg) })
			}
		}()
	}

	if err := r.readManifest(); err != nil {
		return res, err
	}

	// The bodies.
	if err := r.receiveData(); err != nil {
		res.Kept = r.cut
		r.fail(-1, err.Error())
		r.sendSummary()
		return res, ctxErr(ctx, err)
	}
	if !r.dry {
		r.makeLinks() // before the directories' mtimes are set
		r.applyOwners()
	}
	if r.delete && len(r.res.Failed) == 0 {
		r.deleteExtraneous()
	} else if r.delete {
		r.o.warn("--delete: nothing removed, since not everything arrived")
	}
	if r.group == nil && !r.dry {
		r.dirWork(r.fail)()
	}
	if err := r.sendSummary(); err != nil {
		return res, ctxErr(ctx, fmt.Errorf("sending the summary: %w", err))
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("%w: %d of %d entries", ErrFailed, len(res.Failed), len(r.entries))
	}
	return res, nil
}

// readManifest reads the manifest, planning each entry as it arrives; the
// sender reads the plans as we write them. What the session holds of each
// entry is charged to its Memory first; a manifest that would pass its
// bounds, or MaxEntries, is ended by abort.
func (r *receiver) readManifest() error {
	bw := bufio.NewWriterSize(r.conn, 64<<10)
	var rec []byte
	for {
		r.conn.SetReadDeadline(time.Now().Add(r.o.idleTimeout()))
		e, err := proto.ReadEntry(r.br)
		if err != nil {
			return ctxErr(r.ctx, fmt.Errorf("reading the manifest: %w", err))
		}
		if e.Kind == proto.KindEnd {
			break
		}
		if r.owned {
			var ow proto.Owner
			if e.Kind.Owned() {
				if ow, err = proto.ReadOwner(r.br); err != nil {
					return ctxErr(r.ctx, fmt.Errorf("reading the manifest: %w", err))
				}
			}
			if why := r.tally.take(ownerCost); why != "" {
				return r.abort(bw, why)
			}
			r.owners = append(r.owners, ow)
		}
		if len(r.entries) == proto.MaxEntries {
			return r.abort(bw, fmt.Sprintf("the manifest has more than %d entries, the most one transfer may have", proto.MaxEntries))
		}
		if why := r.tally.take(entryCost + bytesCost(len(e.Path))); why != "" {
			return r.abort(bw, why)
		}
		r.tally.entries++
		dirs := len(r.made) + len(r.fresh)
		r.entries = append(r.entries, e)
		i := len(r.entries) - 1
		var p proto.Plan
		if r.dry {
			p = r.planDry(&r.entries[i])
		} else {
			p = r.plan(&r.entries[i])
		}
		// Only the path and what the data phase needs are kept.
		r.entries[i].Target, r.entries[i].Reason = "", ""
		if why := r.tally.take(int64(len(r.made)+len(r.fresh)-dirs) * keyCost); why != "" {
			return r.abort(bw, why)
		}
		r.plans = append(r.plans, p.Action)
		if p.Offset > 0 {
			if r.offsets == nil {
				r.offsets = map[int]int64{}
			}
			r.offsets[i] = p.Offset
		}
		if p.Action == proto.ActionSend {
			// The progress counts a resumed file from its start, its part
			// as done.
			if e.Kind == proto.KindRange {
				r.prog.Total += e.Length
			} else {
				r.prog.Total += e.Size
			}
			r.prog.Done += p.Offset
			r.res.Resumed += p.Offset
			if e.Kind == proto.KindFile || e.Offset == 0 {
				r.prog.FileCount++
			}
		}
		r.conn.SetWriteDeadline(time.Now().Add(r.o.idleTimeout()))
		rec = p.Append(rec[:0])
		if _, err := bw.Write(rec); err != nil {
			return ctxErr(r.ctx, fmt.Errorf("sending the plan: %w", err))
		}
	}
	r.conn.SetWriteDeadline(time.Now().Add(r.o.idleTimeout()))
	if err := bw.Flush(); err != nil {
		return ctxErr(r.ctx, fmt.Errorf("sending the plan: %w", err))
	}
	return nil
}

// abort ends the session in its manifest, saying why: the plans so far go
// out, then an abort plan, and the rest of the manifest is read and
// dropped for at most the idle timeout, so that the sender reads why
// before the connection closes.
func (r *receiver) abort(bw *bufio.Writer, why string) error {
	r.conn.SetWriteDeadline(time.Now().Add(r.o.idleTimeout()))
	bw.Write(abortRecord(proto.RoleReceiver, why))
	if err := bw.Flush(); err == nil {
		drainManifest(r.conn, r.br, r.o.idleTimeout())
	}
	return fmt.Errorf("%w: %s", ErrLimit, why)
}

type receiver struct {
	ctx     context.Context
	conn    net.Conn
	br      *bufio.Reader
	root    *os.Root
	o       *Options
	verify  bool
	dry     bool          // the sender asked for a dry run: plan, make nothing
	links   []int         // hard links planned, by entry: made after the data phase
	delete  bool          // the sender asked for --delete, and this end allows it
	owned   bool          // the sender sends owners (--owner), and this end takes them
	owners  []proto.Owner // by entry, when owned
	res     *Result
	entries []proto.Entry
	plans   []proto.Action // by entry
	offsets map[int]int64  // where a planned body starts, for the few entries (held parts) not at 0
	tally   tally          // what the session holds of its manifest
	got     []bool         // bodies received, by entry
	done    int64          // body bytes received in this session
	prog    Progress       // for o.Progress: done and total also count the parts resumed
	// cut is the part that a body cut short left, if any.
	cut      *Kept
	failures []proto.Failure
	dirs     map[string]*os.Root // open sub-roots by directory, so that each
	// operation is one system call instead of a walk from the top
	placer  *placer         // places small files, once one arrives
	made    map[string]bool // directories known to exist
	fresh   map[string]bool // directories this session made: nothing was in them
	methods methodTally
	group   *group // the streams this one belongs to, or nil
	// saidSpecial is set once the session has said that files arrive
	// without set-user-ID and set-group-ID bits (placedMode).
	saidSpecial bool
	// held are the parts taken while planning, by entry, until their
	// bodies arrive; partDirs the directories they are in.
	held     map[int]*part.File
	partDirs map[string]*part.Dir
}

// maxOpenDirs bounds the sub-roots a session keeps open.
const maxOpenDirs = 128

// at returns the root of p's directory (opened once per session, within
// r.root, so it can no more escape than r.root can) and p's last element.
// No name on the way is a symbolic link: os.Root alone follows a link
// that stays inside the root, so a link a sender made, or one already in
// the receiving directory, would have the entries under it written, and
// their modes set, in the directory it points to (an attack review).
func (r *receiver) at(p string) (*os.Root, string, error) {
	dir, base := path.Split(p)
	if dir == "" {
		return r.root, base, nil
	}
	dir = dir[:len(dir)-1]
	if d, ok := r.dirs[dir]; ok {
		return d, base, nil
	}
	if len(r.dirs) >= maxOpenDirs {
		r.closeRoots()
	}
	// From the nearest directory open already, a name at a time.
	from, rest := r.root, dir
	for up := path.Dir(dir); up != "."; up = path.Dir(up) {
		if d, ok := r.dirs[up]; ok {
			from, rest = d, dir[len(up)+1:]
			break
		}
	}
	d, err := openDirNoFollow(from, rest)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", dir, err)
	}
	if r.dirs == nil {
		r.dirs = map[string]*os.Root{}
	}
	r.dirs[dir] = d
	return d, base, nil
}

// mkdirs makes dir and the directories above it that are missing, as
// MkdirAll would, but following no symbolic link: a name that exists must
// be a directory.
func (r *receiver) mkdirs(dir string) error {
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		p := dir[:i]
		if r.made[p] {
			continue
		}
		d, base, err := r.at(p)
		if err != nil {
			return err
		}
		if err := d.Mkdir(base, 0o755); err == nil {
			r.fresh[p] = true
		} else if !errors.Is(err, os.ErrExist) {
			return err
		} else if fi, err := d.Lstat(base); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s: exists and is not a directory", p)
		}
		r.made[p] = true
	}
	return nil
}

// closeRoots closes the sub-roots, once nothing is being placed in them.
// Held parts and their directories stay open.
func (r *receiver) closeRoots() {
	if r.placer != nil {
		r.placer.wait() // nothing may be placed in a closed directory
	}
	for k, d := range r.dirs {
		d.Close()
		delete(r.dirs, k)
	}
}

// closeDirs closes everything the session holds open in the root: the
// sub-roots, the parts taken while planning (kept for a later resume) and
// their directories.
func (r *receiver) closeDirs() {
	r.closeRoots()
	for i, f := range r.held {
		f.Keep() // planned, never sent: left for a later resume
		delete(r.held, i)
	}
	for k, d := range r.partDirs {
		d.Close()
		delete(r.partDirs, k)
	}
}

// partDir returns the directory that p's part goes in, opened once per
// session (closed with the sub-roots).
func (r *receiver) partDir(p string) (*part.Dir, error) {
	dir := path.Dir(p)
	if d, ok := r.partDirs[dir]; ok {
		return d, nil
	}
	if len(r.partDirs) >= maxOpenDirs {
		for k, d := range r.partDirs {
			if !r.holdsIn(k) {
				d.Close()
				delete(r.partDirs, k)
			}
		}
	}
	pd, err := part.OpenDir(r.root, dir)
	if err != nil {
		return nil, err
	}
	if r.partDirs == nil {
		r.partDirs = map[string]*part.Dir{}
	}
	r.partDirs[dir] = pd
	return pd, nil
}

// holdsIn reports whether a held part is in the directory dir.
func (r *receiver) holdsIn(dir string) bool {
	for i := range r.held {
		if path.Dir(r.entries[i].Path) == dir {
			return true
		}
	}
	return false
}

// OverwriteHint ends the messages about a file that exists and is not
// replaced. They reach both ends (the sender reads them in the plan and
// the summary), so the hint names the command that has the flag. (zcopy
// send HOST:DIR, which passes --overwrite to the receiver it starts,
// words it for its user.)
const OverwriteHint = "(zcopy recv --overwrite replaces it)"

// partMessage words a failure to take a part for people.
func partMessage(err error) string {
	switch {
	case errors.Is(err, part.ErrBusy):
		return "another transfer is receiving this file into the same place right now; not written"
	case errors.Is(err, part.ErrExist):
		return "a file appeared under this name while it was received; not replaced " + OverwriteHint
	}
	return err.Error()
}

// fail records that entry i (or the session, i < 0) failed.
func (r *receiver) fail(i int, msg string) {
	if i < 0 {
		// One, and the caller's to report.
		r.failures = append(r.failures, proto.Failure{Index: SessionFailure, Message: msg})
		r.res.Failed = append(r.res.Failed, "session: "+msg)
		return
	}
	name := r.entries[i].Path
	if r.group != nil && r.entries[i].Kind == proto.KindRange {
		r.group.failFile(name, msg)
	}
	kept := msg
	if r.tally.take(stringCost(len(msg))+8) != "" {
		kept = unkeptFailure
	}
	r.failures = append(r.failures, proto.Failure{Index: uint32(i), Message: kept})
	r.noteFailed(name + ": " + msg)
	r.o.warn(name + ": " + msg)
}

// noteFailed adds s to the failures the session reports, charging it to
// the session's memory. Past the session's bound only the count is kept:
// the text is unkeptFailure, which costs a slice slot (16 bytes).
func (r *receiver) noteFailed(s string) {
	if r.tally.take(stringCost(len(s))) != "" {
		s = unkeptFailure
	}
	r.res.Failed = append(r.res.Failed, s)
}

// refuse plans entry e refused (what is here stays), saying so at this end
// and counting it as failed, as the sender does: the transfer did not
// deliver it, so neither end exits 0, and --delete removes nothing.
func (r *receiver) refuse(e *proto.Entry, what string) proto.Plan {
	r.o.warn(e.Path + ": refused: " + what + " " + OverwriteHint)
	r.noteFailed(e.Path + ": " + what)
	return proto.Plan{Action: proto.ActionRefuse, Message: what + " " + OverwriteHint}
}

// unkeptFailure stands for a failure whose text the session did not keep.
const unkeptFailure = "(failed; the reason was not kept: the failures passed this transfer's memory bound, --manifest-memory)"

// plan decides what to do with one manifest entry, making directories and
// symlinks on the spot.
func (r *receiver) plan(e *proto.Entry) proto.Plan {
	failPlan := func(err error) proto.Plan {
		msg := err.Error()
		if r.group != nil && e.Kind == proto.KindRange {
			r.group.failFile(e.Path, msg)
		}
		r.o.warn(e.Path + ": " + msg)
		r.noteFailed(e.Path + ": " + msg)
		return proto.Plan{Action: proto.ActionFail, Message: msg}
	}
	if e.Kind == proto.KindOmitted {
		msg := "not sent: " + e.Reason
		r.o.warn(fmt.Sprintf("%q: %s", e.Path, msg))
		r.noteFailed(fmt.Sprintf("%q: %s", e.Path, msg))
		return proto.Plan{Action: proto.ActionFail, Message: msg}
	}
	if strings.HasSuffix(e.Path, PartSuffix) || strings.HasSuffix(e.Path, RangesSuffix) {
		return failPlan(fmt.Errorf("names ending in %s or %s are reserved", PartSuffix, RangesSuffix))
	}
	if dir := path.Dir(e.Path); dir != "." && !r.made[dir] {
		if err := r.mkdirs(dir); err != nil {
			return failPlan(err)
		}
	}
	d, base, err := r.at(e.Path)
	if err != nil {
		return failPlan(err)
	}
	// In a directory this session made, only this session's entries can
	// exist: no need to look (one fstatat a file, on trees of small files).
	var fi os.FileInfo
	lerr := os.ErrNotExist
	if !r.fresh[path.Dir(e.Path)] || e.Kind == proto.KindSymlink {
		fi, lerr = d.Lstat(base)
	}
	exists := lerr == nil
	switch e.Kind {
	case proto.KindDir:
		if exists && !fi.IsDir() {
			return failPlan(fmt.Errorf("exists and is not a directory"))
		}
		if err := d.Mkdir(base, 0o755); err == nil {
			r.fresh[e.Path] = true
		} else if !errors.Is(err, os.ErrExist) {
			return failPlan(err)
		} else if !exists {
			// Not looked at (a directory this session made): what is
			// there came earlier in this manifest, and may be a symlink.
			if fi, err := d.Lstat(base); err != nil || !fi.IsDir() {
				return failPlan(fmt.Errorf("exists and is not a directory"))
			}
		}
		r.made[e.Path] = true
		r.res.Dirs++
		return proto.Plan{Action: proto.ActionDone}
	case proto.KindHardlink:
		return r.planLink(len(r.entries)-1, e, fi, exists)
	case proto.KindSymlink:
		if exists {
			if t, err := d.Readlink(base); err == nil && t == e.Target {
				r.res.Symlinks++
				return proto.Plan{Action: proto.ActionDone}
			}
			if !r.o.Overwrite || fi.IsDir() {
				return r.refuse(e, "exists and differs")
			}
			if err := d.Remove(base); err != nil {
				return failPlan(err)
			}
		}
		if err := d.Symlink(e.Target, base); err != nil {
			return failPlan(err)
		}
		r.res.Symlinks++
		return proto.Plan{Action: proto.ActionDone}
	}
	// A file, or a range of one.
	first := e.Kind == proto.KindFile || e.Offset == 0 // counts the file
	if e.Mode&0o6000 != 0 && !r.saidSpecial && !(r.owned && geteuid() == 0) {
		r.saidSpecial = true
		r.o.warn(e.Path + ": arrives without its set-user-ID and set-group-ID bits (and so may others): only a receiver running as root with --owner gives them")
	}
	if e.Kind == proto.KindRange && r.group == nil {
		return failPlan(fmt.Errorf("a range of a file outside a group of streams"))
	}
	if exists {
		switch {
		case !fi.Mode().IsRegular():
			return failPlan(fmt.Errorf("exists and is %s, not a file", tree.TypeName(fi.Mode().Type())))
		case fi.Size() == e.Size && fi.ModTime().UnixNano() == e.MTime:
			if first {
				r.res.Skipped++
				r.res.SkippedBytes += e.Size
				r.res.Files++
				r.res.Bytes += e.Size
				r.o.warn(e.Path + ": skipped, already here (same size and mtime)")
			}
			return proto.Plan{Action: proto.ActionSkip}
		case !r.o.Overwrite:
			return r.refuse(e, "exists and differs")
		}
	}
	if e.Kind == proto.KindRange {
		// The first range of a file to be announced starts it afresh, so
		// no stale byte of an earlier attempt survives; it happens under
		// the group's lock, before any stream can write a range of it.
		fresh := func() (*part.Dir, *part.File, error) {
			pd, err := part.OpenDir(r.root, path.Dir(e.Path))
			if err != nil {
				return nil, nil, err
			}
			f, _, _, err := part.Open(pd, base+RangesSuffix, versionOf(e), false)
			if err != nil {
				pd.Close()
				return nil, nil, errors.New(partMessage(err))
			}
			return pd, f, nil
		}
		if err := r.group.addRange(e, fresh); err != nil {
			return failPlan(err)
		}
		return proto.Plan{Action: proto.ActionSend}
	}
	// A part already here is taken now, and held until the body comes: it
	// may be another transfer's (then this file fails at once), and with
	// Resume it is continued only if it holds the start of this version.
	var off int64
	if !r.fresh[path.Dir(e.Path)] {
		_, lerr := d.Lstat(base + PartSuffix)
		switch {
		case lerr != nil:
			// None here: the part is made when the body comes.
		case len(r.held) >= maxHeld:
			if r.o.Resume {
				r.o.warn(fmt.Sprintf("%s: starting over: more than %d parts are already waiting for their bodies in this session", e.Path, maxHeld))
			}
		default:
			pd, err := r.partDir(e.Path)
			if err != nil {
				return failPlan(err)
			}
			f, o, why, err := part.Open(pd, base+PartSuffix, versionOf(e), r.o.Resume)
			if err != nil {
				return failPlan(errors.New(partMessage(err)))
			}
			if why != "" {
				r.o.warn(e.Path + ": " + why)
			}
			if r.held == nil {
				r.held = map[int]*part.File{}
			}
			r.held[len(r.entries)-1] = f
			off = o
		}
	}
	return proto.Plan{Action: proto.ActionSend, Offset: off}
}

// receiveData reads every body until the sender's FinMagic. An error ends
// the session.
func (r *receiver) receiveData() error {
	r.got = make([]bool, len(r.entries))
	defer func() {
		if r.placer != nil {
			r.placer.stop()
			r.collect()
		}
	}()
	for {
		r.conn.SetReadDeadline(time.Now().Add(r.o.idleTimeout()))
		h, fin, err := proto.ReadDataHeader(r.br)
		if err != nil {
			return fmt.Errorf("reading a data header: %w", err)
		}
		if fin {
			break
		}
		i := int(h.Index)
		if r.dry {
			return fmt.Errorf("%w: data in a dry run", proto.ErrMalformed)
		}
		if i >= len(r.entries) || r.plans[i] != proto.ActionSend || r.got[i] {
			return fmt.Errorf("%w: data for entry %d, which was not asked for", proto.ErrMalformed, i)
		}
		e := &r.entries[i]
		wantOff, wantLen := r.offsets[i], e.Size-r.offsets[i]
		if e.Kind == proto.KindRange {
			wantOff, wantLen = e.Offset, e.Length
		}
		if h.Offset != wantOff || h.Length != wantLen {
			return fmt.Errorf("%w: %s: data at %d+%d, want %d+%d", proto.ErrMalformed, e.Path, h.Offset, h.Length, wantOff, wantLen)
		}
		r.got[i] = true
		r.prog.Name = e.Path
		if err := r.receiveFile(i, h); err != nil {
			return err
		}
		if e.Kind == proto.KindFile || e.Offset == 0 {
			r.prog.Files++
		}
		r.progress(0)
	}
	for i, a := range r.plans {
		if a == proto.ActionSend && !r.got[i] && !r.dry {
			r.fail(i, "the sender never sent it")
		}
	}
	return nil
}

// receiveFile writes one body to its part (NAME.zcopy-part, or the
// group's NAME.zcopy-ranges), reads its trailer, and places the file if
// all is well. A part that cannot be taken (another transfer holds it)
// fails that file alone: its body is read and dropped. A file that cannot
// be written ends the session (the rest of its body cannot be accounted
// for); its part is kept for a resume.
func (r *receiver) receiveFile(i int, h proto.DataHeader) error {
	e := &r.entries[i]
	held := r.held[i]
	delete(r.held, i)
	if r.takesWhole(e, h) {
		if held != nil {
			// A part found while planning (a stale one, taken so that no
			// other transfer writes the name meanwhile): a file taken
			// whole does not use it.
			held.Discard()
		}
		return r.receiveWhole(i, h)
	}
	base := path.Base(e.Path)
	f, why := r.takePart(e, h, held, base)
	if f == nil {
		r.fail(i, why)
		return r.dropBody(e, h)
	}
	// keep leaves the part for a resume; a ranged part is the group's.
	keep := func() {
		if e.Kind != proto.KindRange {
			f.Keep()
		}
	}
	if err := r.writeBody(f, e, h); err != nil {
		keep()
		return err
	}
	r.conn.SetReadDeadline(time.Now().Add(r.trailerWait(i)))
	tr, err := proto.ReadTrailer(r.br)
	if err != nil {
		keep()
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	r.settle(i, f, base, tr)
	return nil
}

// trailerWait is how long the receiver waits for entry i's trailer: the
// idle timeout, and the time to hash the file when the sender hashes it
// before it writes the trailer (hashes on, or the file resumed).
func (r *receiver) trailerWait(i int) time.Duration {
	wait := r.o.idleTimeout()
	if r.verify || r.offsets[i] > 0 {
		wait += hashTime(r.entries[i].Size)
	}
	return wait
}

// takePart returns the part e's body is written into: the group's for a
// range, else the part held since planning or, for a body from the
// start, a new one. It returns nil and why the file fails if there is
// none to write.
func (r *receiver) takePart(e *proto.Entry, h proto.DataHeader, held *part.File, base string) (*part.File, string) {
	switch {
	case e.Kind == proto.KindRange:
		if f := r.group.part(e.Path); f != nil {
			return f, ""
		}
		return nil, "the file's ranges failed on another stream"
	case held != nil:
		return held, ""
	case h.Offset > 0:
		// Only a held part is continued.
		return nil, "the part to continue was let go before its body came; send it again"
	}
	pd, err := r.partDir(e.Path)
	if err != nil {
		return nil, partMessage(err)
	}
	f, _, _, err := part.Open(pd, base+PartSuffix, versionOf(e), false)
	if err != nil {
		return nil, partMessage(err)
	}
	return f, ""
}

// writeBody writes h's body into f: the bytes already buffered with the
// header first, the rest straight from the socket by the engine; a sparse
// body (holes.go) extent by extent, leaving its holes unwritten. An error
// ends the session.
func (r *receiver) writeBody(f *part.File, e *proto.Entry, h proto.DataHeader) error {
	ranged := e.Kind == proto.KindRange
	if !ranged {
		// The part may be longer than the offset we planned on: cut it
		// back so no stale byte survives (and a hole left unwritten
		// below reads as zeros).
		if err := f.Truncate(h.Offset); err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
	}
	if !h.Sparse {
		return r.writeData(f, e, h.Offset, h.Length)
	}
	pos, left, hole := h.Offset, h.Length, false
	for left > 0 {
		r.conn.SetReadDeadline(time.Now().Add(r.o.idleTimeout()))
		x, err := proto.ReadExtent(r.br, left)
		if err != nil {
			if !ranged {
				r.cut = &Kept{Path: e.Path + PartSuffix, Bytes: pos, Size: e.Size}
			}
			return fmt.Errorf("%s: %w%s", e.Path, err, keptNote(ranged))
		}
		if hole = x.Hole; hole {
			r.res.HoleBytes += x.Length
			r.progress(x.Length)
		} else if err := r.writeData(f, e, pos, x.Length); err != nil {
			return err
		}
		pos, left = pos+x.Length, left-x.Length
	}
	if hole {
		// The body ends in a hole: the file still reaches its size.
		// Nothing is ever written past e.Size (extents stay within the
		// body, bodies within the file), so extending to it cuts no byte
		// that another stream of the group wrote.
		if err := f.Truncate(e.Size); err != nil {
			return fmt.Errorf("%s: %w%s", e.Path, err, keptNote(ranged))
		}
	}
	return nil
}

// writeData writes the n bytes of a body that belong at off in f.
func (r *receiver) writeData(f *part.File, e *proto.Entry, off, n int64) error {
	ranged := e.Kind == proto.KindRange
	var k int64
	if b := min(int64(r.br.Buffered()), n); b > 0 {
		buf, _ := r.br.Peek(int(b))
		if _, err := f.WriteAt(buf, off); err != nil {
			return fmt.Errorf("%s: writing: %w%s", e.Path, err, keptNote(ranged))
		}
		r.br.Discard(int(b))
		r.methods.add(zerocopy.ReadWrite, b)
		k = b
		r.progress(b)
	}
	if rest := n - k; rest > 0 {
		before := r.done
		st, err := zerocopy.ReceiveFile(r.ctx, f.File, r.conn, off+k, rest, &zerocopy.ReceiveOptions{
			Method: r.o.Method,
			Progress: func(n int64) {
				r.conn.SetReadDeadline(time.Now().Add(r.o.idleTimeout()))
				r.done = before + n
				r.progress(0)
			},
		})
		r.done = before + st.Bytes
		r.methods.add(st.Method, st.Bytes)
		if err != nil {
			if !ranged {
				r.cut = &Kept{Path: e.Path + PartSuffix, Bytes: off + k + st.Bytes, Size: e.Size}
			}
			return fmt.Errorf("%s: %w%s", e.Path, err, keptNote(ranged))
		}
	}
	r.res.BytesSent += n
	return nil
}

// settle finishes entry i once its body and trailer are in f: the file
// fails if its trailer or (with Verify) its hash says the body is not the
// sender's file, and is placed otherwise. Of a file in ranges, only the
// stream whose range completes it settles it.
func (r *receiver) settle(i int, f *part.File, base string, tr proto.Trailer) {
	e := &r.entries[i]
	why, want := trailerFault(tr.Status), tr.Hash
	if e.Kind == proto.KindRange {
		var mine bool
		if mine, want, why = r.rangeArrived(i, tr, why); !mine {
			return
		}
	}
	switch {
	case tr.Status == proto.StatusChanged && e.Kind == proto.KindFile:
		// The body stands if it hashes as the file now does.
		if why = hashFault(f.File, e.Size, want); why != "" && !strings.HasPrefix(why, "hashing") {
			why = changedFault
		}
	case why == "" && (r.verify || r.offsets[i] > 0):
		// A part is continued when its record matches the file's size,
		// mtime and identity, which a file rewritten in place (or a part
		// left by another peer) can match too: a resumed file is kept
		// only if it hashes whole as the sender's does.
		why = hashFault(f.File, e.Size, want)
		if why != "" && r.offsets[i] > 0 && !strings.HasPrefix(why, "hashing") {
			why = resumedMismatch
		}
	}
	if why != "" {
		f.Discard()
		r.fail(i, why)
		return
	}
	if err := finishPart(f, base, e, r.o.Fsync, r.o.Overwrite); err != nil {
		r.fail(i, partMessage(err))
		return
	}
	r.res.Files++
	r.res.Bytes += e.Size
}

// rangeArrived records with the group that range i arrived (bad says why
// it is not the file's, if it is not). It reports whether this stream
// completed the file and so finishes it, with the hash the file must match
// and why it fails; a bad range that does not complete the file fails it
// here, and its part stays the group's.
func (r *receiver) rangeArrived(i int, tr proto.Trailer, bad string) (mine bool, want [16]byte, why string) {
	// The stream whose range completes the file finishes it; the part is
	// then this stream's alone.
	complete, want, hashed, why := r.group.rangeDone(&r.entries[i], tr, bad)
	if !complete {
		if bad != "" {
			r.fail(i, bad)
		}
		return false, want, ""
	}
	if why == "" && r.verify && !hashed {
		why = "no hash arrived for the file"
	}
	return true, want, why
}

// hashFault hashes the first size bytes of f and says why they are not
// the sender's file (whose hash is want), or "" when they are.
func hashFault(f *os.File, size int64, want [16]byte) string {
	sum, err := hashFile(f, size)
	if err != nil {
		return "hashing: " + err.Error()
	}
	if sum != want {
		return hashMismatch(sum, want)
	}
	return ""
}

// rangesLost says why a file that was to arrive in ranges was not placed
// though no range of it failed.
const rangesLost = "its ranges never all arrived (the sender announced less than the whole file): nothing placed"

// resumedMismatch says why a resumed file was discarded.
const resumedMismatch = "resumed from a part kept from an earlier attempt, it does not hash as the sender's file: the part was most likely not the start of this file (the file was rewritten in place keeping its size and mtime, or the part was not its own): discarded; run again to send it whole"

// keptNote says what became of the part of a body that was cut short: a
// whole file's is kept for a resume; a range's goes with its group.
func keptNote(ranged bool) string {
	if ranged {
		return ""
	}
	return KeptNote
}

// KeptNote ends the error of a session whose receiver kept the part of
// the file it was writing when the session failed. It reaches the sender
// too; the receiver's command says more (Result.Kept) in its place.
const KeptNote = " (the part is kept: the same transfer again resumes it)"

// dropBody reads and drops the body and trailer of a file that cannot be
// written, so the session stays in step with the sender.
func (r *receiver) dropBody(e *proto.Entry, h proto.DataHeader) error {
	drop := func(n int64) error {
		for left := n; left > 0; {
			r.conn.SetReadDeadline(time.Now().Add(r.o.idleTimeout()))
			k, err := io.CopyN(io.Discard, r.br, min(left, 1<<20))
			left -= k
			r.progress(k)
			if err != nil {
				return fmt.Errorf("%s: reading the body: %w", e.Path, eofIsUnexpected(err))
			}
		}
		return nil
	}
	if !h.Sparse {
		if err := drop(h.Length); err != nil {
			return err
		}
	}
	for left := h.Length; h.Sparse && left > 0; {
		r.conn.SetReadDeadline(time.Now().Add(r.o.idleTimeout()))
		x, err := proto.ReadExtent(r.br, left)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
		if x.Hole {
			r.progress(x.Length)
		} else if err := drop(x.Length); err != nil {
			return err
		}
		left -= x.Length
	}
	r.conn.SetReadDeadline(time.Now().Add(r.o.idleTimeout()))
	if _, err := proto.ReadTrailer(r.br); err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	return nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// trailerFault says why a body whose trailer has status s is not the
// file, or "" when it is. Both ways a body arrives judge its trailer by it
// (settle, receiveWhole); the sender sets the status in sendFile and
// appendSmall.
func trailerFault(s uint8) string {
	switch s {
	case proto.StatusTruncated:
		return "the source file was truncated while it was sent"
	case proto.StatusReadError:
		return "the sender could not read the file"
	case proto.StatusChanged:
		return changedFault
	}
	return ""
}

// changedFault is the failure of a file whose source was written while it
// was sent (StatusChanged) and whose bytes are not the file's as it is now.
const changedFault = "the source file was written while it was sent, and what arrived is not its start as it is now (it may mix old and new bytes)"

// judgeChanged says whether a whole file with StatusChanged stands: got
// is the hash of what arrived, want the sender's hash of the file after
// the send. Equal, the body is the file's start as it is now (the file
// grew, or was touched): it is kept.
func judgeChanged(got, want [16]byte) string {
	if got != want {
		return changedFault
	}
	return ""
}

// hashMismatch is the failure of a file whose hash is not the sender's.
func hashMismatch(got, want [16]byte) string {
	return fmt.Sprintf("hash mismatch: received %x, the sender has %x", got, want)
}

// progress counts n more body bytes received and reports to o.Progress.
func (r *receiver) progress(n int64) {
	r.done += n
	if r.o.Progress != nil {
		p := r.prog
		p.Done += r.done
		r.o.Progress(p)
	}
}

// dirWork returns the work of setting directories' modes and mtimes,
// deepest first, once their contents have stopped changing them; failures
// go to report.
func (r *receiver) dirWork(report func(i int, msg string)) func() {
	var dirs []int
	for i, e := range r.entries {
		if e.Kind == proto.KindDir && r.plans[i] == proto.ActionDone {
			dirs = append(dirs, i)
		}
	}
	sort.Slice(dirs, func(a, b int) bool {
		return strings.Count(r.entries[dirs[a]].Path, "/") > strings.Count(r.entries[dirs[b]].Path, "/")
	})
	root, entries := r.root, r.entries
	return func() {
		for _, i := range dirs {
			e := &entries[i]
			// Through its parent, opened following no symlink, and only
			// if it is still a directory (not opened itself: a directory
			// its owner may not read, 0o300, can still be given its mode).
			d, err := openDirNoFollow(root, path.Dir(e.Path))
			if err != nil {
				report(i, err.Error())
				continue
			}
			base := path.Base(e.Path)
			mt := time.Unix(0, e.MTime)
			if fi, err := d.Lstat(base); err != nil {
				report(i, err.Error())
			} else if !fi.IsDir() {
				report(i, "not a directory here any more: its mode and mtime were not set")
			} else if err := d.Chmod(base, tree.FileMode(e.Mode)); err != nil {
				report(i, err.Error())
			} else if err := d.Chtimes(base, mt, mt); err != nil {
				report(i, err.Error())
			}
			if d != root {
				d.Close()
			}
		}
	}
}

// sendSummary writes the summary a failure at a time: encoded whole, the
// summary of a transfer with millions of failures would be a buffer as
// large.
func (r *receiver) sendSummary() error {
	bw := bufio.NewWriterSize(r.conn, 64<<10)
	r.conn.SetWriteDeadline(time.Now().Add(r.o.idleTimeout()))
	bw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(r.failures))))
	var b []byte
	for _, f := range r.failures {
		// One failure's record: a summary of one, less its count.
		b = (&proto.Summary{Failures: []proto.Failure{f}}).Append(b[:0])
		if bw.Available() < len(b)-4 {
			r.conn.SetWriteDeadline(time.Now().Add(r.o.idleTimeout()))
		}
		bw.Write(b[4:])
	}
	return bw.Flush()
}
