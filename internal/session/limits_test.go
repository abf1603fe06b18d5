package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// manyItems returns n empty files under a new directory, walked.
func manyItems(t *testing.T, n int) []tree.Item {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("%0100d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// tempRoot returns a root on a new directory, closed at the test's end.
func tempRoot(t *testing.T) *os.Root {
	t.Helper()
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// pushWith sends items to a Receive under ctx and returns both ends'
// errors.
func pushWith(t *testing.T, ctx context.Context, items []tree.Item) (sendErr, recvErr error) {
	t.Helper()
	root := tempRoot(t)
	c, s := tcpPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := Receive(ctx, s, root, Options{IdleTimeout: 10 * time.Second})
		s.Close()
		done <- err
	}()
	_, sendErr = Send(context.Background(), c, Items(items), Options{Dialed: true, IdleTimeout: 10 * time.Second})
	c.Close()
	return sendErr, <-done
}

func TestTally(t *testing.T) {
	m := &Memory{Session: 1000, Total: 1500}
	a, b := tally{m: m}, tally{m: m}
	if why := a.take(900); why != "" {
		t.Fatalf("900 of 1000: %s", why)
	}
	if why := a.take(200); !strings.Contains(why, "--manifest-memory") || !strings.Contains(why, "1000 B") {
		t.Errorf("past the session's bound: %q", why)
	}
	if why := b.take(700); !strings.Contains(why, "--total-manifest-memory") || !strings.Contains(why, "other transfers") {
		t.Errorf("past the total: %q", why)
	}
	if got := m.InUse(); got != 900 {
		t.Errorf("in use %d after refusals; want 900 (refused charges are not kept)", got)
	}
	a.release()
	if why := b.take(700); why != "" {
		t.Errorf("after the other session let go: %s", why)
	}
	b.release()
	if got := m.InUse(); got != 0 {
		t.Errorf("in use %d after both let go", got)
	}
	// A session's own bound is never above the total: a total smaller
	// than Session is what a session that passes it is told about.
	small := tally{m: &Memory{Session: 1 << 30, Total: 100}}
	if why := small.take(200); !strings.Contains(why, "--total-manifest-memory") || strings.Contains(why, "other transfers") {
		t.Errorf("one session past a total below its own bound: %q", why)
	}
}

// TestManifestPastMemory: a manifest that passes the receiver's bound
// ends both ends with the reason (the sender reads an abort, the receiver
// returns ErrLimit), after the receiver read and dropped the rest of the
// manifest; the memory is given back, and with room it arrives.
func TestManifestPastMemory(t *testing.T) {
	items := manyItems(t, 300)
	m := &Memory{Session: 32 << 10}
	sendErr, recvErr := pushWith(t, WithMemory(context.Background(), m), items)
	var ab *proto.AbortError
	if !errors.As(sendErr, &ab) || ab.Role != proto.RoleReceiver || !strings.Contains(ab.Reason, "--manifest-memory") {
		t.Errorf("sender: %v; want the receiver's abort naming --manifest-memory", sendErr)
	}
	if !errors.Is(recvErr, ErrLimit) {
		t.Errorf("receiver: %v; want ErrLimit", recvErr)
	}
	if got := m.InUse(); got != 0 {
		t.Errorf("%d bytes still charged after the session", got)
	}
	m.Session = 1 << 20
	if sendErr, recvErr := pushWith(t, WithMemory(context.Background(), m), items); sendErr != nil || recvErr != nil {
		t.Errorf("with room: send %v, receive %v", sendErr, recvErr)
	}
}

// TestRefuse: a refused peer of either role hears why, as an abort after
// the handshake, and a Receive reports its handshake done.
func TestRefuse(t *testing.T) {
	items := manyItems(t, 3)
	t.Run("receiver", func(t *testing.T) {
		c, s := tcpPair(t)
		done := make(chan error, 1)
		go func() { done <- Refuse(context.Background(), s, proto.RoleReceiver, Options{}, "too busy") }()
		_, err := Send(context.Background(), c, Items(items), Options{Dialed: true})
		var ab *proto.AbortError
		if !errors.As(err, &ab) || ab.Reason != "too busy" || !strings.Contains(err.Error(), "the receiver ended the session: too busy") {
			t.Errorf("sender: %v; want the receiver's abort", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Refuse: %v", err)
		}
	})
	t.Run("sender", func(t *testing.T) {
		root := tempRoot(t)
		c, s := tcpPair(t)
		done := make(chan error, 1)
		go func() {
			err := Refuse(context.Background(), s, proto.RoleSender, Options{}, "too busy")
			s.Close()
			done <- err
		}()
		shaken := 0
		ctx := WithHandshakeDone(context.Background(), func() { shaken++ })
		_, err := Receive(ctx, c, root, Options{Dialed: true})
		var ab *proto.AbortError
		if !errors.As(err, &ab) || ab.Role != proto.RoleSender || !strings.Contains(err.Error(), "the sender ended the session: too busy") {
			t.Errorf("receiver: %v; want the sender's abort", err)
		}
		if shaken != 1 {
			t.Errorf("handshake done reported %d times; want once", shaken)
		}
		if err := <-done; err != nil {
			t.Errorf("Refuse: %v", err)
		}
	})
}

// TestFailuresPastMemory: past the session's bound, a failure is counted
// but its text is not kept.
func TestFailuresPastMemory(t *testing.T) {
	r := &receiver{o: &Options{}, res: &Result{}, entries: []proto.Entry{{Path: "a"}, {Path: "b"}}, tally: tally{m: &Memory{Session: 400}}}
	r.fail(0, "short")
	r.fail(1, strings.Repeat("long ", 100))
	if len(r.failures) != 2 || len(r.res.Failed) != 2 {
		t.Fatalf("%d failures, %d in the result; want 2 each", len(r.failures), len(r.res.Failed))
	}
	if r.failures[0].Message != "short" || r.res.Failed[0] != "a: short" {
		t.Errorf("the first failure: %q, %q", r.failures[0].Message, r.res.Failed[0])
	}
	if r.failures[1].Message != unkeptFailure || r.res.Failed[1] != unkeptFailure {
		t.Errorf("the failure past the bound: %q, %q; want unkeptFailure", r.failures[1].Message, r.res.Failed[1])
	}
}

// TestDefaultFitsTenMillion: the documented claim that a tree of 10
// million files whose paths average 150 bytes, one in ten a directory,
// fits in the default bound of one transfer.
func TestDefaultFitsTenMillion(t *testing.T) {
	const n = 10_000_000
	if need := n * (entryCost + bytesCost(150) + keyCost/10); need > DefaultManifestMemory {
		t.Errorf("10 million entries need %d bytes; DefaultManifestMemory is %d", need, int64(DefaultManifestMemory))
	}
}

// TestChargeCoversHeap: what a session charges for its manifest covers
// what it holds of it on the heap once the manifest is read, for short
// and long paths, and is not wildly more.
func TestChargeCoversHeap(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		path func(i int) string
	}{
		{"short", 200_000, func(i int) string { return fmt.Sprintf("d/%d", i) }},
		{"long", 5_000, func(i int) string { return fmt.Sprintf("d/%s/%0255d", strings.Repeat("x", 255), i) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tempRoot(t)
			c, s := tcpPair(t)
			m := &Memory{}
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			done := make(chan error, 1)
			go func() {
				_, err := Receive(WithMemory(context.Background(), m), s, root, Options{Plaintext: true, IdleTimeout: time.Minute}) // a sender by hand, in the clear
				done <- err
			}()
			// A sender by hand: its manifest, then nothing, so that the
			// receiver waits in its data phase holding the manifest.
			h := proto.Hello{Version: proto.Version, Role: proto.RoleSender}
			c.Write((&proto.Verdict{OK: true}).Append(h.Append(nil)))
			br := bufio.NewReader(c)
			if _, err := proto.ReadHello(br); err != nil {
				t.Fatal(err)
			}
			if v, err := proto.ReadVerdict(br); err != nil || !v.OK {
				t.Fatalf("verdict %+v, %v", v, err)
			}
			go func() {
				bw := bufio.NewWriter(c)
				var b []byte
				for _, d := range []string{"d", "d/" + strings.Repeat("x", 255)} {
					bw.Write((&proto.Entry{Kind: proto.KindDir, Path: d, Mode: 0o755}).Append(b[:0]))
				}
				for i := range tc.n {
					b = (&proto.Entry{Kind: proto.KindFile, Path: tc.path(i), Mode: 0o644, Size: 1}).Append(b[:0])
					bw.Write(b)
				}
				bw.Write([]byte{byte(proto.KindEnd)})
				bw.Flush()
			}()
			for i := range tc.n + 2 {
				if _, err := proto.ReadPlan(br); err != nil {
					t.Fatalf("plan %d: %v", i, err)
				}
			}
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			held, charged := int64(after.HeapAlloc)-int64(before.HeapAlloc), m.InUse()
			t.Logf("%d entries: %d bytes on the heap (%d an entry), %d charged (%d an entry)", tc.n, held, held/int64(tc.n), charged, charged/int64(tc.n))
			if held > charged || charged > 3*held {
				t.Errorf("the session holds %d bytes and charged %d", held, charged)
			}
			c.Close()
			<-done
		})
	}
}

// TestHashAllowance: while an end hashes a resumed or verified file, its
// peer waits without a byte on the connection; the receiver's wait for
// the trailer and the sender's write deadline after a hashed trailer
// reach past the idle timeout by the time to hash the file (a resume of a
// file of tens of GB took longer than the idle timeout to hash).
func TestHashAllowance(t *testing.T) {
	const idle = 2 * time.Second
	const size = 10 << 30
	for _, tc := range []struct {
		name    string
		verify  bool
		offset  int64
		hashing bool
	}{
		{"whole-unverified", false, 0, false},
		{"resumed", false, 1 << 20, true},
		{"verified", true, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &receiver{o: &Options{IdleTimeout: idle}, verify: tc.verify,
				entries: []proto.Entry{{Kind: proto.KindFile, Path: "f", Size: size}}}
			if tc.offset > 0 {
				r.offsets = map[int]int64{0: tc.offset}
			}
			want := idle
			if tc.hashing {
				want += hashTime(size)
			}
			if got := r.trailerWait(0); got != want {
				t.Errorf("trailer wait %v, want %v", got, want)
			}
		})
	}
	if d := hashTime(size); d < 50*time.Second {
		t.Errorf("hashTime(10 GiB) = %v: less than at 200 MB/s", d)
	}
	s := &sender{o: &Options{IdleTimeout: idle}}
	if d := time.Until(s.writeDeadline()); d > idle {
		t.Errorf("write deadline %v away with no hash pending, want the idle timeout", d)
	}
	s.peerHashing = time.Now().Add(idle + hashTime(size))
	if d := time.Until(s.writeDeadline()); d < hashTime(size) {
		t.Errorf("write deadline %v away while the receiver hashes 10 GiB, want at least %v", d, hashTime(size))
	}
	// The last file resumed: the summary comes after the receiver hashed
	// it (a review found the summary's wait left at the idle timeout).
	if d := time.Until(s.summaryDeadline()); d < hashTime(size) {
		t.Errorf("summary deadline %v away while the receiver hashes 10 GiB, want at least %v", d, hashTime(size))
	}
}
