package proto

import (
	"bufio"
	"bytes"
	"testing"
)

// The fuzz targets feed arbitrary bytes to every decoder. A decoder must
// return a record or an error, never panic or allocate beyond its limits;
// a record it accepts must encode back to the bytes it read, so nothing is
// silently reinterpreted. Seeds live in testdata/fuzz.

// wholeReader reads b through a buffer that holds all of it, so that
// len(b) - Buffered() is the number of bytes a decoder consumed. (With the
// default 4 KiB buffer a longer input is only partly buffered, and the
// difference counted bytes never read: the fuzzer found that with an 8 KiB
// input, testdata/fuzz/FuzzReadPlan/c0791f322aa667d6.)
func wholeReader(b []byte) *bufio.Reader {
	return bufio.NewReaderSize(bytes.NewReader(b), len(b))
}

func FuzzReadHello(f *testing.F) {
	f.Add((&Hello{Version: Version, Role: RoleSender, Flags: FlagAuth}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHello(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && !bytes.Equal(h.Append(nil)[:30], b[:30]) {
			t.Errorf("hello %+v does not re-encode to its input", h)
		}
	})
}

func FuzzReadEntry(f *testing.F) {
	f.Add((&Entry{Kind: KindFile, Path: "dir/file", Mode: 0o644, MTime: 1, Size: 10}).Append(nil))
	f.Add((&Entry{Kind: KindSymlink, Path: "l", Target: "t"}).Append(nil))
	f.Add((&Entry{Kind: KindRange, Path: "r", Size: 9, Offset: 3, Length: 3}).Append(nil))
	f.Add((&Entry{Kind: KindOmitted, Path: `a\b`, Reason: "why"}).Append(nil))
	f.Add((&Entry{Kind: KindHardlink, Path: "d/second-name", Link: 3}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := wholeReader(b)
		e, err := ReadEntry(r)
		if err != nil {
			return
		}
		switch e.Kind {
		case KindEnd:
		case KindOmitted:
			// Its name is for people to read and never used as a path:
			// only its length is bounded.
			if len(e.Path) > MaxPath || len(e.Reason) > MaxMessage {
				t.Errorf("accepted an omitted entry of %d and %d bytes", len(e.Path), len(e.Reason))
			}
		default:
			if cerr := CheckPath(e.Path); cerr != nil {
				t.Errorf("accepted an entry with a bad path: %v", cerr)
			}
		}
		n := len(b) - r.Buffered()
		if enc := e.Append(nil); !bytes.Equal(enc, b[:n]) {
			t.Errorf("entry %+v re-encodes to %q, read from %q", e, enc, b[:n])
		}
	})
}

func FuzzReadPlan(f *testing.F) {
	f.Add((&Plan{Action: ActionSend, Offset: 4096}).Append(nil))
	f.Add((&Plan{Action: ActionFail, Message: "no"}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := wholeReader(b)
		p, err := ReadPlan(r)
		if err != nil {
			return
		}
		n := len(b) - r.Buffered()
		if enc := p.Append(nil); !bytes.Equal(enc, b[:n]) {
			t.Errorf("plan %+v re-encodes to %q, read from %q", p, enc, b[:n])
		}
	})
}

func FuzzReadData(f *testing.F) {
	var seed []byte
	seed = (&DataHeader{Index: 1, Offset: 0, Length: 3}).Append(seed)
	seed = append(seed, "abc"...)
	seed = (&Trailer{}).Append(seed)
	f.Add(append(seed, FinMagic[:]...))
	// A sparse body: data, a hole, data (version 6).
	seed = (&DataHeader{Index: 2, Offset: 4, Length: 1 << 40, Sparse: true}).Append(seed[:0])
	seed = (&Extent{Length: 2}).Append(seed)
	seed = append(seed, "ab"...)
	seed = (&Extent{Hole: true, Length: 1<<40 - 3}).Append(seed)
	seed = (&Extent{Length: 1}).Append(seed)
	seed = append(seed, 'c')
	seed = (&Trailer{}).Append(seed)
	f.Add(append(seed, FinMagic[:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			h, fin, err := ReadDataHeader(r)
			if err != nil || fin {
				return
			}
			if h.Offset < 0 || h.Length < 0 {
				t.Fatalf("accepted %+v", h)
			}
			if h.Sparse {
				// A hostile sender's extents must stay within the
				// body its header declared: never past it, never empty.
				for left := h.Length; left > 0; {
					x, err := ReadExtent(r, left)
					if err != nil {
						return
					}
					if x.Length <= 0 || x.Length > left {
						t.Fatalf("accepted an extent of %d bytes with %d left", x.Length, left)
					}
					if enc := x.Append(nil); len(enc) != ExtentSize {
						t.Fatalf("extent %+v encodes to %d bytes", x, len(enc))
					}
					left -= x.Length
					if !x.Hole {
						if _, err := r.Discard(int(min(x.Length, 1<<20))); err != nil {
							return
						}
					}
				}
			} else if _, err := r.Discard(int(min(h.Length, 1<<20))); err != nil {
				return
			}
			if _, err := ReadTrailer(r); err != nil {
				return
			}
		}
	})
}

// FuzzReadExtent: a sparse body's extents, read from a sender the
// receiver does not trust, must never claim more than the body has left.
func FuzzReadExtent(f *testing.F) {
	f.Add((&Extent{Length: 4096}).Append(nil), int64(8192))
	f.Add((&Extent{Hole: true, Length: 1 << 62}).Append(nil), int64(1<<62))
	f.Add((&Extent{Hole: true, Length: 2}).Append(nil), int64(1))
	f.Add((&Extent{Hole: true, Length: -1}).Append(nil), int64(1))
	f.Fuzz(func(t *testing.T, b []byte, left int64) {
		r := wholeReader(b)
		x, err := ReadExtent(r, left)
		if err != nil {
			return
		}
		if x.Length <= 0 || x.Length > left {
			t.Errorf("accepted an extent of %d bytes with %d left", x.Length, left)
		}
		n := len(b) - r.Buffered()
		if enc := x.Append(nil); !bytes.Equal(enc, b[:n]) {
			t.Errorf("extent %+v re-encodes to %q, read from %q", x, enc, b[:n])
		}
	})
}

func FuzzReadSummary(f *testing.F) {
	f.Add((&Summary{Failures: []Failure{{Index: 1, Message: "x"}}}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadSummary(bufio.NewReader(bytes.NewReader(b)))
	})
}

// FuzzReadVerdict: the handshake reads verdicts, on the Hello and on the
// token's proof, from a peer it does not trust yet (issue 14).
func FuzzReadVerdict(f *testing.F) {
	f.Add((&Verdict{Message: "wrong token"}).Append(nil))
	f.Add(append((&Verdict{OK: true}).Append(nil), make([]byte, ProofSize)...)) // a client's: its proof follows
	f.Fuzz(func(t *testing.T, b []byte) {
		r := wholeReader(b)
		v, err := ReadVerdict(r)
		if err != nil {
			return
		}
		if len(v.Message) > MaxMessage {
			t.Errorf("accepted a message of %d bytes", len(v.Message))
		}
		n := len(b) - r.Buffered()
		if enc := v.Append(nil); !bytes.Equal(enc, b[:n]) {
			t.Errorf("verdict %+v re-encodes to %q, read from %q", v, enc, b[:n])
		}
	})
}

// FuzzReadOwner: every 8 bytes are an owner; fewer are an error, never a
// panic, and what is read encodes back to itself.
func FuzzReadOwner(f *testing.F) {
	f.Add((&Owner{UID: 1000, GID: 100}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := wholeReader(b)
		o, err := ReadOwner(r)
		if err != nil {
			return
		}
		if enc := o.Append(nil); !bytes.Equal(enc, b[:OwnerSize]) {
			t.Errorf("owner %+v re-encodes to %q, read from %q", o, enc, b[:OwnerSize])
		}
	})
}
