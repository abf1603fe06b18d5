package reliability

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
)

// rawEntry encodes a manifest entry by hand, so that a test can send what
// proto's encoder would refuse to (an oversized path, a bad kind).
func rawEntry(kind byte, path string, mode uint32, size int64, extra ...byte) []byte {
	b := []byte{kind}
	b = binary.BigEndian.AppendUint16(b, uint16(len(path)))
	b = append(b, path...)
	b = binary.BigEndian.AppendUint32(b, mode)
	b = binary.BigEndian.AppendUint64(b, uint64(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	if kind == byte(proto.KindFile) || kind == byte(proto.KindRange) {
		b = binary.BigEndian.AppendUint64(b, 0) // source: unknown
	}
	return append(b, extra...)
}

func rawString(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func rawRange(off, length int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(off)), uint64(length))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestFramedHostileSenders feeds a zcopy recv --keep hand-written senders
// that break the protocol in every way the decoders and the receiver
// check, one connection each: broken handshakes, oversized and truncated
// records, paths that try to escape DIR (including through a symlink the
// same manifest made), lying headers and trailers, and ranges that lie
// about their file. Each must be answered with the error its case names in
// the receiver's log (for that peer's address); nothing may appear
// outside DIR, no lying file may get its final name, and afterwards the
// receiver must serve an honest transfer and exit 0 on SIGTERM. (e2e's
// TestHostilePeers covers random garbage, a silent peer, three path
// escapes and bodies longer or shorter than declared.)
//
// In both modes: the receiver runs without a token (an empty --token, as
// the senders prove none), with --plaintext, where the senders write their
// bytes on TCP, and inside TLS, where each sender is a TLS client (as
// zcopy's) that writes the same bytes inside TLS, its Hellos saying
// FlagTLS: the records a peer can lie in are the same either way, and
// TLS must not open another way in.
func TestFramedHostileSenders(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { framedHostileSenders(t, m) })
	}
}

func framedHostileSenders(t *testing.T, m secMode) {
	base := t.TempDir()
	dst := filepath.Join(base, "dst")
	outside := filepath.Join(base, "outside") // where escapes would land
	os.MkdirAll(outside, 0o755)
	r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--header-timeout", "2s", "--idle-timeout", "3s", "--token", "")...)
	addr := r.Addr(t)

	hello := func(h proto.Hello) []byte {
		if h.Version == 0 {
			h.Version = proto.Version
		}
		if h.Role == 0 {
			h.Role = proto.RoleSender
		}
		h.Flags |= m.peerFlags()
		return h.Append(nil)
	}
	ok := cat(hello(proto.Hello{}), (&proto.Verdict{OK: true}).Append(nil))
	group := cat(hello(proto.Hello{Group: 77, Stream: 0, Streams: 2}), (&proto.Verdict{OK: true}).Append(nil))
	end := []byte{byte(proto.KindEnd)}
	file := func(path string, size int64) []byte { return rawEntry(byte(proto.KindFile), path, 0o644, size) }
	data := func(i uint32, off, n int64, body string, status uint8) []byte {
		b := (&proto.DataHeader{Index: i, Offset: off, Length: n}).Append(nil)
		b = append(b, body...)
		return (&proto.Trailer{Status: status}).Append(b)
	}
	escape := func(path string) []byte {
		return cat(ok, file(path, 5), end, data(0, 0, 5, "owned", 0), proto.FinMagic[:])
	}

	for _, tc := range []struct {
		name string
		raw  []byte
		want string // in the receiver's log line for this peer
		gone string // a path under dst that must not exist afterwards
	}{
		{"truncated-hello", hello(proto.Hello{})[:10], "handshake", ""},
		{"version-1", hello(proto.Hello{Version: 1}), "protocol version 1 is not supported", ""},
		{"version-next", hello(proto.Hello{Version: proto.Version + 1}), fmt.Sprintf("protocol version %d is not supported", proto.Version+1), ""},
		{"two-receivers", hello(proto.Hello{Role: proto.RoleReceiver}), "both ends are receivers", ""},
		{"unknown-flags", hello(proto.Hello{Flags: 0x80}), "unknown hello flags", ""},
		{"bad-group", hello(proto.Hello{Group: 5, Stream: 3, Streams: 2}), "stream 3 of 2 in group 5", ""},
		{"path-65535-bytes", cat(ok, file(strings.Repeat("a", 65535), 5)), "65535", ""},
		{"component-256-bytes", cat(ok, file("a/"+strings.Repeat("b", 256), 5)), "component of 256 bytes", ""},
		{"unknown-kind", cat(ok, rawEntry(9, "x", 0o644, 0)), "unknown entry kind 9", ""},
		{"mode-beyond-permissions", cat(ok, rawEntry(byte(proto.KindFile), "x", 0o170644, 5)), "has more than permission bits", ""},
		{"negative-size", cat(ok, file("x", -1)), "size -1", ""},
		{"size-on-a-directory", cat(ok, rawEntry(byte(proto.KindDir), "d", 0o755, 5)), "size 5 for a dir", ""},
		{"empty-symlink-target", cat(ok, rawEntry(byte(proto.KindSymlink), "l", 0o777, 0, rawString("")...)), "bad symlink target", ""},
		{"truncated-entry", cat(ok, file("truncated-entry", 5)[:6]), "reading the manifest", ""},
		{"escape-dotdot", escape(".."), `".." component`, ""},
		{"escape-dotdot-x", escape("../x"), `".." component`, ""},
		{"escape-nested-dotdot", escape("a/../../x"), `".." component`, ""},
		{"escape-absolute", escape(outside + "/abs"), "absolute path", ""},
		{"escape-backslash", escape(`a\..\..\x`), "NUL or a backslash", ""},
		{"escape-nul", escape("a\x00/../x"), "NUL or a backslash", ""},
		{"dot-component", escape("./x"), `"." component`, ""},
		{"empty-component", escape("a//b"), "empty component", ""},
		{"trailing-slash", escape("x/"), "empty component", ""},
		{"empty-path", escape(""), "empty path", ""},
		{"path-4097-bytes", escape(strings.Repeat("abcdefg/", 512) + "z"), "4097", ""},
		{"reserved-part-name", escape("y.zcopy-part"), "reserved", "y.zcopy-part"},
		// A symlink to a directory outside DIR, then a file through it;
		// and a symlink to "..", then a file through that.
		{"escape-through-absolute-symlink", cat(ok,
			rawEntry(byte(proto.KindSymlink), "ln", 0o777, 0, rawString(outside)...),
			file("ln/pwned", 5), end, data(1, 0, 5, "owned", 0), proto.FinMagic[:]), "ln/pwned", ""},
		{"escape-through-dotdot-symlink", cat(ok,
			rawEntry(byte(proto.KindSymlink), "up", 0o777, 0, rawString("..")...),
			file("up/outside/pwned", 5), end, data(1, 0, 5, "owned", 0), proto.FinMagic[:]), "up/outside/pwned", ""},
		{"data-for-an-unplanned-entry", cat(ok, file("unplanned", 5), end, data(3, 0, 5, "owned", 0)), "which was not asked for", "unplanned"},
		{"data-at-the-wrong-offset", cat(ok, file("offset", 5), end, data(0, 2, 3, "own", 0)), "data at 2+3, want 0+5", "offset"},
		{"huge-size-short-body", cat(ok, file("huge", 1<<62), end, (&proto.DataHeader{Index: 0, Length: 1 << 62}).Append(nil), []byte("owned")), "huge", "huge"},
		{"unknown-trailer-status", cat(ok, file("status", 5), end, data(0, 0, 5, "owned", 9)), "trailer status 9", "status"},
		{"truncated-status-claims", cat(ok, file("claimed", 5), end, data(0, 0, 5, "owned", proto.StatusTruncated), proto.FinMagic[:]), "truncated while it was sent", "claimed"},
		{"range-outside-a-group", cat(ok, rawEntry(byte(proto.KindRange), "r", 0o644, 10, rawRange(0, 10)...), end), "outside a group", "r"},
		{"range-past-the-file", cat(group, rawEntry(byte(proto.KindRange), "r2", 0o644, 10, rawRange(5, 10)...)), "range 5+10 of a file of 10 bytes", "r2"},
		{"overlapping-ranges", cat(group,
			rawEntry(byte(proto.KindRange), "ov", 0o644, 8, rawRange(0, 8)...),
			rawEntry(byte(proto.KindRange), "ov", 0o644, 8, rawRange(4, 4)...), end), "overlap", "ov"},
		{"ranges-disagree", cat(group,
			rawEntry(byte(proto.KindRange), "dis", 0o644, 8, rawRange(0, 4)...),
			rawEntry(byte(proto.KindRange), "dis", 0o644, 9, rawRange(4, 4)...), end), "disagree", "dis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			figs.hostile("framed protocol, hand-written hostile senders", 1)
			c, err := dialPeer(m, addr, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local := c.LocalAddr().String()
			c.Write(tc.raw)
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, bufio.NewReader(c))
			var line string
			if !eventually(10*time.Second, func() bool {
				line = peerLine(r.Log(), local, tc.want)
				return line != ""
			}) {
				t.Errorf("no log line for %s with %q; the receiver said about it:\n%s", local, tc.want, peerLines(r.Log(), local))
			}
			t.Logf("%s", line)
			if tc.gone != "" {
				absent(t, filepath.Join(dst, tc.gone))
			}
		})
	}

	entries, _ := os.ReadDir(outside)
	for _, e := range entries {
		t.Errorf("%s was written outside DIR", filepath.Join(outside, e.Name()))
	}
	entries, _ = os.ReadDir(base)
	if len(entries) != 2 {
		t.Errorf("the directory around DIR holds %d entries; want dst and outside only", len(entries))
	}
	src := filepath.Join(base, "honest.bin")
	honest := writeRandom(t, src, 100<<10)
	if code, _, serr := run(t, m.args("send", "--to", addr, "--token", "", src)...); code != 0 {
		t.Fatalf("an honest send after the hostile ones: exit %d: %s", code, serr)
	}
	if arrived(t, filepath.Join(dst, "honest.bin"), honest) {
		figs.transfer(1)
	}
	r.stop(t)
}

// peerLine returns the first line of log about peer that contains want.
func peerLine(log, peer, want string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, peer+":") && strings.Contains(l, want) {
			return l
		}
	}
	return ""
}

// peerLines returns every line of log about peer.
func peerLines(log, peer string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, peer+":") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
