package proto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func reader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func TestRoundTrip(t *testing.T) {
	for _, h := range []Hello{
		{Version: Version, Role: RoleSender, Flags: FlagVerify | FlagAuth, Nonce: [16]byte{1, 2, 3}},
		{Version: Version, Role: RoleReceiver, Group: 77, Stream: 3, Streams: 4},
	} {
		if got, err := ReadHello(reader(h.Append(nil))); err != nil || got != h {
			t.Errorf("hello: %+v, %v", got, err)
		}
	}
	for _, v := range []Verdict{{OK: true}, {OK: false, Message: "bad token"}} {
		if got, err := ReadVerdict(reader(v.Append(nil))); err != nil || got != v {
			t.Errorf("verdict: %+v, %v", got, err)
		}
	}
	for _, e := range []Entry{
		{Kind: KindFile, Path: "a/b c/ünï.txt", Mode: 0o644, MTime: 1700000000123456789, Size: 5 << 30, Source: 0xfedcba9876543210},
		{Kind: KindDir, Path: "a", Mode: 0o755, MTime: -5},
		{Kind: KindSymlink, Path: "a/l", Mode: 0o777, Target: "../x"},
		{Kind: KindRange, Path: "big", Mode: 0o644, Size: 100, Source: 1, Offset: 50, Length: 50},
		{Kind: KindOmitted, Path: `dir\with\backslash`, Reason: "the protocol cannot carry a backslash in a name"},
		{Kind: KindEnd},
	} {
		if got, err := ReadEntry(reader(e.Append(nil))); err != nil || got != e {
			t.Errorf("entry: %+v, %v", got, err)
		}
	}
	for _, p := range []Plan{{Action: ActionSend, Offset: 12345}, {Action: ActionRefuse, Message: "exists"}} {
		if got, err := ReadPlan(reader(p.Append(nil))); err != nil || got != p {
			t.Errorf("plan: %+v, %v", got, err)
		}
	}
	d := DataHeader{Index: 7, Offset: 100, Length: 1 << 40}
	if got, fin, err := ReadDataHeader(reader(d.Append(nil))); err != nil || fin || got != d {
		t.Errorf("data header: %+v, %v, %v", got, fin, err)
	}
	if _, fin, err := ReadDataHeader(reader(FinMagic[:])); err != nil || !fin {
		t.Errorf("fin: %v, %v", fin, err)
	}
	tr := Trailer{Status: StatusTruncated, Hash: [16]byte{9}}
	if got, err := ReadTrailer(reader(tr.Append(nil))); err != nil || got != tr {
		t.Errorf("trailer: %+v, %v", got, err)
	}
	s := Summary{Failures: []Failure{{Index: 3, Message: "disk full"}}}
	if got, err := ReadSummary(reader(s.Append(nil))); err != nil || len(got.Failures) != 1 || got.Failures[0] != s.Failures[0] {
		t.Errorf("summary: %+v, %v", got, err)
	}
}

// TestBadRecords lists what each malformed record gets: ErrMalformed, or
// io.ErrUnexpectedEOF when it stops short.
func TestBadRecords(t *testing.T) {
	entry := func(e Entry) []byte { return e.Append(nil) }
	for _, tc := range []struct {
		name string
		read func(*bufio.Reader) error
		in   []byte
		want error
	}{
		{"hello-magic", readHello, []byte("HTTP/1.1 200 OK\r\n\r\n............."), ErrMalformed},
		{"hello-short", readHello, HelloMagic[:], io.ErrUnexpectedEOF},
		{"hello-stream-past-count", readHello, (&Hello{Group: 1, Stream: 2, Streams: 2}).Append(nil), ErrMalformed},
		{"hello-stream-without-group", readHello, (&Hello{Stream: 1, Streams: 2}).Append(nil), ErrMalformed},
		{"range-past-end", readEntry, entry(Entry{Kind: KindRange, Path: "a", Size: 10, Offset: 5, Length: 6}), ErrMalformed},
		{"range-empty", readEntry, entry(Entry{Kind: KindRange, Path: "a", Size: 10, Offset: 5, Length: 0}), ErrMalformed},
		{"entry-kind", readEntry, []byte{9}, ErrMalformed},
		{"entry-dotdot", readEntry, entry(Entry{Kind: KindFile, Path: "../escape"}), ErrMalformed},
		{"entry-inner-dotdot", readEntry, entry(Entry{Kind: KindFile, Path: "a/../../b"}), ErrMalformed},
		{"entry-absolute", readEntry, entry(Entry{Kind: KindFile, Path: "/etc/passwd"}), ErrMalformed},
		{"entry-nul", readEntry, entry(Entry{Kind: KindFile, Path: "a\x00b"}), ErrMalformed},
		{"entry-empty", readEntry, entry(Entry{Kind: KindDir, Path: ""}), ErrMalformed},
		{"entry-mode", readEntry, entry(Entry{Kind: KindFile, Path: "a", Mode: 0o170644}), ErrMalformed},
		{"entry-negative-size", readEntry, entry(Entry{Kind: KindFile, Path: "a", Size: -1}), ErrMalformed},
		{"entry-dir-size", readEntry, entry(Entry{Kind: KindDir, Path: "a", Size: 5}), ErrMalformed},
		{"entry-long-name", readEntry, entry(Entry{Kind: KindFile, Path: strings.Repeat("n", 256)}), ErrMalformed},
		{"entry-huge-string", readEntry, []byte{1, 0xff, 0xff}, ErrMalformed},
		{"entry-short", readEntry, entry(Entry{Kind: KindFile, Path: "a"})[:8], io.ErrUnexpectedEOF},
		{"entry-link-no-target", readEntry, entry(Entry{Kind: KindSymlink, Path: "l"}), ErrMalformed},
		{"plan-action", readPlan, []byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"plan-skip-offset", readPlan, (&Plan{Action: ActionSkip, Offset: 5}).Append(nil), ErrMalformed},
		{"data-magic", readDataHeader, []byte("ZDAX00000000000000000000"), ErrMalformed},
		{"data-negative", readDataHeader, (&DataHeader{Offset: -1}).Append(nil), ErrMalformed},
		{"trailer-magic", readTrailer, make([]byte, TrailerSize), ErrMalformed},
		{"trailer-status", readTrailer, (&Trailer{Status: 7}).Append(nil), ErrMalformed},
		{"summary-huge", readSummary, []byte{0xff, 0xff, 0xff, 0xff}, ErrMalformed},
		{"summary-short", readSummary, []byte{0, 0, 0, 1, 0}, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.read(reader(tc.in)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"a", true},
		{"a/b/c.txt", true},
		{"name with spaces/ünïcödé ✓", true},
		{"..a/b..", true},
		{"", false},
		{"/abs", false},
		{"a//b", false},
		{"a/", false},
		{"./a", false},
		{"a/./b", false},
		{"..", false},
		{"a/..", false},
		{"a\\..\\b", false},
		{"a\x00", false},
		{strings.Repeat("d/", 2049) + "f", false},
	} {
		if err := CheckPath(tc.path); (err == nil) != tc.ok {
			t.Errorf("CheckPath(%q) = %v, want ok %v", tc.path, err, tc.ok)
		}
	}
}

func readHello(r *bufio.Reader) error   { _, err := ReadHello(r); return err }
func readEntry(r *bufio.Reader) error   { _, err := ReadEntry(r); return err }
func readPlan(r *bufio.Reader) error    { _, err := ReadPlan(r); return err }
func readTrailer(r *bufio.Reader) error { _, err := ReadTrailer(r); return err }
func readSummary(r *bufio.Reader) error { _, err := ReadSummary(r); return err }
func readDataHeader(r *bufio.Reader) error {
	_, _, err := ReadDataHeader(r)
	return err
}
