package zerocopy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// evict drops the file's pages from the page cache (they are clean once
// synced, so POSIX_FADV_DONTNEED discards them).
func evict(t *testing.T, f *os.File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// needCachestat skips when the kernel has no cachestat(2) (before 6.5):
// raw sendfile calls are then off, which the other tests cover.
func needCachestat(t *testing.T, f *os.File) {
	t.Helper()
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &cs, 0); err == unix.ENOSYS {
		t.Skip("this kernel has no cachestat(2); sendfile always goes through the scheduler")
	}
}

func TestResident(t *testing.T) {
	const size = 1<<20 + 100 // not a whole number of pages
	for _, c := range []struct {
		name    string
		prepare func(t *testing.T, f *os.File) // after the file is written
		off, n  int64
		want    bool
	}{
		{"just written", nil, 0, size, true},
		{"one byte", nil, size - 1, 1, true},
		{"past the end of the file", nil, 0, size + pageSize, false},
		{"evicted", evict, 0, size, false},
		{"evicted then read", func(t *testing.T, f *os.File) {
			evict(t, f)
			if _, err := io.Copy(io.Discard, f); err != nil {
				t.Fatal(err)
			}
		}, 0, size, true},
		{"first half read, whole file asked", func(t *testing.T, f *os.File) {
			evict(t, f)
			if _, err := f.ReadAt(make([]byte, 256<<10), 0); err != nil {
				t.Fatal(err)
			}
		}, 0, size, false},
		{"empty range", nil, 0, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, _ := makeFile(t, size)
			f := openFile(t, path)
			needCachestat(t, f)
			if c.prepare != nil {
				c.prepare(t, f)
			}
			if got := resident(int(f.Fd()), c.off, c.n); got != c.want {
				t.Errorf("resident(%d, %d) = %v, want %v", c.off, c.n, got, c.want)
			}
		})
	}
}

// TestSendfileRawCalls sends a file by sendfile to a loopback TCP socket
// (non-blocking, as every net.Conn is) and to a blocking socket: the first
// is sent by raw calls, when the file is in the page cache; a blocking
// socket and a file not in the page cache never are (such calls may sleep
// and must let the scheduler run other goroutines meanwhile).
func TestSendfileRawCalls(t *testing.T) {
	const size = 8 << 20
	path, data := makeFile(t, size)
	for _, c := range []struct {
		name     string
		blocking bool // send to a blocking socket
		evicted  bool // drop the file from the page cache first
		wantRaw  bool
	}{
		{"cached file, non-blocking socket", false, false, true},
		{"cached file, blocking socket", true, false, false},
		{"evicted file, non-blocking socket", false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := openFile(t, path)
			needCachestat(t, f)
			if c.evicted {
				evict(t, f)
			} else if _, err := io.Copy(io.Discard, f); err != nil {
				t.Fatal(err)
			}
			var dst io.Writer
			var got <-chan []byte
			var closeDst func()
			if c.blocking {
				fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				w, r := os.NewFile(uintptr(fds[0]), "blocking socket"), os.NewFile(uintptr(fds[1]), "reader")
				defer r.Close()
				if fl, _ := rawFcntlGetfl(fds[0]); fl&unix.O_NONBLOCK != 0 {
					t.Fatal("the socket meant to be blocking is non-blocking")
				}
				ch := make(chan []byte, 1)
				go func() { b, _ := io.ReadAll(r); ch <- b }()
				dst, got, closeDst = w, ch, func() { w.Close() }
			} else {
				cl, s := tcpPair(t)
				dst, got, closeDst = cl, readAllAsync(s), func() { cl.Close() }
			}
			// The system calls that judge each sendfile are counted in
			// Stats.Syscalls too.
			var checks int64
			testHookNoSleepCheck = func(string) { checks++ }
			defer func() { testHookNoSleepCheck = nil }()
			// A chunk smaller than the file so that, cold, later calls
			// may find pages that sendfile's read-ahead brought in.
			st, err := SendFile(context.Background(), dst, f, 0, -1, &SendOptions{Method: Sendfile, ChunkSize: 1 << 20})
			closeDst()
			if err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("received %d bytes, want %d (equal=%v)", len(b), len(data), bytes.Equal(b, data))
			}
			// Every call but SendFile's fstat and the judging ones is a
			// sendfile.
			calls := st.Syscalls - 1 - checks
			t.Logf("%d sendfile calls, %d raw, %d to judge", calls, st.RawSyscalls, checks)
			switch {
			case c.wantRaw && st.RawSyscalls != calls:
				t.Errorf("%d of %d sendfile calls raw, want all: the file is in the page cache", st.RawSyscalls, calls)
			case c.blocking && st.RawSyscalls != 0:
				t.Errorf("%d raw calls to a blocking socket, want none", st.RawSyscalls)
			case c.evicted && st.RawSyscalls != 0:
				// Not even once read-ahead has brought the rest in: a page
				// still being read counts as cached, and waits for the disk.
				t.Errorf("%d raw calls for a file not in the page cache, want none", st.RawSyscalls)
			}
		})
	}
}

// TestRawSendfileHoldsOneP makes the first raw sendfile stall (the test
// hook runs with the raw slot held, where a raw call that sleeps would) while
// three senders send cached files: the others must go on moving bytes
// meanwhile, by ordinary calls, and no second raw call may start, so a
// raw call that sleeps can hold one P and never all of them. With
// GOMAXPROCS 1 no call may be raw at all.
func TestRawSendfileHoldsOneP(t *testing.T) {
	path, data := makeFile(t, 32<<20)
	needCachestat(t, openFile(t, path))
	send := func(t *testing.T, moved *atomic.Int64) Stats {
		c, s := tcpPair(t)
		got := readAllAsync(s)
		var last int64
		st, err := SendFile(context.Background(), c, openFile(t, path), 0, -1, &SendOptions{Method: Sendfile, ChunkSize: 1 << 20, Progress: func(n int64) {
			moved.Add(n - last)
			last = n
		}})
		c.Close()
		if err != nil {
			t.Error(err)
		}
		if b := <-got; !bytes.Equal(b, data) {
			t.Errorf("received %d bytes, want %d", len(b), len(data))
		}
		return st
	}
	t.Run("one-at-a-time", func(t *testing.T) {
		if runtime.GOMAXPROCS(0) < 2 {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
		}
		var moved atomic.Int64
		var in, most, calls atomic.Int32
		var stalled atomic.Bool
		var stallEnd string
		testHookRawSendfile = func() {
			calls.Add(1)
			k := in.Add(1)
			defer in.Add(-1)
			for {
				m := most.Load()
				if k <= m || most.CompareAndSwap(m, k) {
					break
				}
			}
			if !stalled.CompareAndSwap(false, true) {
				return
			}
			// Stall until the other senders have moved 8 MiB.
			from, give := moved.Load(), time.Now().Add(30*time.Second)
			for moved.Load() < from+8<<20 {
				if time.Now().After(give) {
					stallEnd = "30 s passed and the other senders moved nothing"
					return
				}
				runtime.Gosched()
			}
		}
		defer func() { testHookRawSendfile = nil }()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { send(t, &moved) })
		}
		wg.Wait()
		if stallEnd != "" {
			t.Error(stallEnd)
		}
		if !stalled.Load() {
			t.Fatal("no sendfile was raw: the cached file should have made some")
		}
		if m := most.Load(); m != 1 {
			t.Errorf("%d raw sendfile calls ran at once, want 1", m)
		}
		t.Logf("%d raw calls", calls.Load())
	})
	t.Run("gomaxprocs-1", func(t *testing.T) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		var calls atomic.Int32
		testHookRawSendfile = func() { calls.Add(1) }
		defer func() { testHookRawSendfile = nil }()
		var moved atomic.Int64
		send(t, &moved)
		if n := calls.Load(); n != 0 {
			t.Errorf("%d raw sendfile calls with GOMAXPROCS 1, want none: one would stop every goroutine", n)
		}
	})
}

// TestRawJudgementSkippedWithOneP guards the order of transfer.sendfile's
// conditions: with GOMAXPROCS 1 no sendfile may be raw, so the fstatfs,
// fcntl and cachestat that judge whether one may be are not made (they
// were, for every response, and thrown away); with 2 they are, once each
// for a cached file.
func TestRawJudgementSkippedWithOneP(t *testing.T) {
	path, data := makeFile(t, 4<<20)
	needCachestat(t, openFile(t, path))
	for _, c := range []struct {
		procs int
		want  []string
	}{
		{1, nil},
		{2, []string{"fstatfs", "fcntl", "cachestat"}},
	} {
		t.Run(fmt.Sprintf("gomaxprocs-%d", c.procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.procs))
			var checks []string
			testHookNoSleepCheck = func(call string) { checks = append(checks, call) }
			defer func() { testHookNoSleepCheck = nil }()
			f := openFile(t, path)
			if _, err := io.Copy(io.Discard, f); err != nil { // cached
				t.Fatal(err)
			}
			cl, s := tcpPair(t)
			got := readAllAsync(s)
			_, err := SendFile(context.Background(), cl, f, 0, -1, &SendOptions{Method: Sendfile, ChunkSize: 1 << 20})
			cl.Close()
			if err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("received %d bytes, want %d", len(b), len(data))
			}
			if !slices.Equal(checks, c.want) {
				t.Errorf("system calls made to judge the sendfile calls: %q, want %q", checks, c.want)
			}
		})
	}
}

// TestRawFileSystems checks which file systems may have raw sendfile
// calls: local disk and memory ones, not procfs (nor, by the same list,
// NFS, FUSE or overlayfs, which this machine need not have).
func TestRawFileSystems(t *testing.T) {
	path, _ := makeFile(t, 4096)
	for _, c := range []struct {
		path string
		want bool
	}{
		{path, true},
		{"/dev/shm", true},
		{"/proc/self/status", false},
	} {
		f, err := os.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := rawFileSystem(int(f.Fd())); got != c.want {
			var st unix.Statfs_t
			unix.Fstatfs(int(f.Fd()), &st)
			t.Errorf("%s (f_type %#x): raw %v, want %v", c.path, st.Type, got, c.want)
		}
		f.Close()
	}
}
