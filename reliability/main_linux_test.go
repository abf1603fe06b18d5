package reliability

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/internal/testbin"
)

// zcopyBin is the binary under test, built once by TestMain.
var zcopyBin string

// suiteToken is the token every zcopy the suite starts has, in
// $ZCOPY_TOKEN (set by TestMain).
var suiteToken string

var soakFlag = flag.Bool("soak", false, "run the suite for longer (also ZCOPY_SOAK=1)")

// soak reports whether the suite runs its long form.
func soak() bool { return *soakFlag || os.Getenv("ZCOPY_SOAK") == "1" }

// rounds is how many times a test repeats its body: once in the short form;
// under soak ZCOPY_SOAK_ROUNDS times (default 10).
func rounds() int {
	if !soak() {
		return 1
	}
	if n, err := strconv.Atoi(os.Getenv("ZCOPY_SOAK_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 10
}

func TestMain(m *testing.M) {
	flag.Parse()
	raiseNoFile(1 << 16)
	bin, remove := testbin.MustBuild("zcopy-reliability-")
	zcopyBin = bin
	// Every zcopy this suite starts inherits one strong token: a listening
	// end started without a token makes its own (and prints it), which the
	// dialing end would not have. In-process peers (session.Send and the
	// like) use the same token (suiteToken); tests of tokens themselves
	// give theirs on the command line or clear it in a command's
	// environment.
	suiteToken = secure.NewToken()
	os.Setenv("ZCOPY_TOKEN", suiteToken)
	began := time.Now()
	code := m.Run()
	figs.Seconds = time.Since(began).Seconds()
	figs.Soak = soak()
	figs.Passed = code == 0
	fmt.Print(figs.text())
	if path := os.Getenv("ZCOPY_RELIABILITY_REPORT"); path != "" {
		if err := figs.writeJSON(path); err != nil {
			fmt.Fprintln(os.Stderr, "writing the report:", err)
			code = 1
		}
	}
	remove()
	os.Exit(code)
}

// raiseNoFile raises this process's descriptor limit (soft, and hard if
// need be and allowed) to at least n: the load tests hold thousands of
// connections. Children inherit it; zcopy raises its own anyway.
func raiseNoFile(n uint64) {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil || rl.Cur >= n {
		return
	}
	rl.Cur = n
	rl.Max = max(rl.Max, n)
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// needNoFile fails the test unless this process may open n descriptors.
func needNoFile(t testing.TB, n uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < n {
		t.Fatalf("this test holds %d connections; the descriptor limit is %d (raise it, or run as root)", n, rl.Cur)
	}
}

// figures are the suite's totals, for the README's Reliability section.
type figures struct {
	mu sync.Mutex
	// Transfers counts transfers that ran to completion (exit 0 at both
	// ends) and whose files were then compared byte for byte.
	Transfers int64 `json:"transfers"`
	// HTTPResponses counts HTTP responses whose status and body were
	// checked byte for byte.
	HTTPResponses int64 `json:"http_responses_verified"`
	// Bytes is the file content compared at receivers (and in HTTP
	// bodies) after those transfers.
	Bytes int64 `json:"bytes_verified"`
	// FilesChecked counts every check of a receiver's directory: a file
	// that must be there and equal, or one that must not be there.
	FilesChecked int64 `json:"files_checked"`
	// Faults counts faults injected, by kind.
	Faults map[string]int64 `json:"faults"`
	// Hostile counts hostile inputs sent to a zcopy server, by kind.
	Hostile map[string]int64 `json:"hostile_inputs"`
	// PeakConns is the most TCP connections one zcopy process held at once.
	PeakConns map[string]int64 `json:"peak_connections"`
	// PeakRSS is the peak resident memory (KiB, VmHWM) of zcopy
	// servers under load, by test.
	PeakRSS map[string]int64 `json:"peak_rss_kib"`
	// FilesLost counts files that should have arrived and did not.
	FilesLost int64 `json:"files_lost"`
	// FilesCorrupted counts files found under their final name with
	// content other than a whole version of their source.
	FilesCorrupted int64   `json:"files_corrupted"`
	Seconds        float64 `json:"seconds"`
	Soak           bool    `json:"soak"`
	Passed         bool    `json:"passed"`
}

var figs = figures{
	Faults:    map[string]int64{},
	Hostile:   map[string]int64{},
	PeakConns: map[string]int64{},
	PeakRSS:   map[string]int64{},
}

func (f *figures) fault(kind string) {
	f.mu.Lock()
	f.Faults[kind]++
	f.mu.Unlock()
}

func (f *figures) hostile(kind string, n int) {
	f.mu.Lock()
	f.Hostile[kind] += int64(n)
	f.mu.Unlock()
}

func (f *figures) transfer(n int) {
	f.mu.Lock()
	f.Transfers += int64(n)
	f.mu.Unlock()
}

func (f *figures) peak(m map[string]int64, key string, v int64) {
	f.mu.Lock()
	m[key] = max(m[key], v)
	f.mu.Unlock()
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// text renders the figures for the test log.
func (f *figures) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "zcopy reliability suite: %.0f s, soak %v, passed %v\n", f.Seconds, f.Soak, f.Passed)
	fmt.Fprintf(&b, "  transfers completed and verified: %d; HTTP responses verified: %d; %s of content compared\n", f.Transfers, f.HTTPResponses, mib(f.Bytes))
	fmt.Fprintf(&b, "  receiver checks: %d; files lost: %d; files corrupted: %d\n", f.FilesChecked, f.FilesLost, f.FilesCorrupted)
	fmt.Fprintf(&b, "  faults injected: %d\n", sum(f.Faults))
	for _, k := range sortedKeys(f.Faults) {
		fmt.Fprintf(&b, "    %-40s %d\n", k, f.Faults[k])
	}
	fmt.Fprintf(&b, "  hostile inputs tried: %d\n", sum(f.Hostile))
	for _, k := range sortedKeys(f.Hostile) {
		fmt.Fprintf(&b, "    %-40s %d\n", k, f.Hostile[k])
	}
	for _, k := range sortedKeys(f.PeakConns) {
		fmt.Fprintf(&b, "  peak connections, %s: %d\n", k, f.PeakConns[k])
	}
	for _, k := range sortedKeys(f.PeakRSS) {
		fmt.Fprintf(&b, "  peak RSS, %s: %s\n", k, mib(f.PeakRSS[k]<<10))
	}
	return b.String()
}

func (f *figures) writeJSON(path string) error {
	f.mu.Lock()
	b, err := json.MarshalIndent(f, "", "  ")
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func mib(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

// A secMode is how a framed transfer is protected: inside TLS (the
// default, no flag) or in the clear (--plaintext, which both ends need).
// Tests of what must hold either way run once in each, as subtests named
// after it.
type secMode struct {
	name      string
	plaintext bool
}

var secModes = []secMode{{"tls", false}, {"plaintext", true}}

// args returns a zcopy command line: verb, m's flag (if any), then args.
func (m secMode) args(verb string, args ...string) []string {
	a := []string{verb}
	if m.plaintext {
		a = append(a, "--plaintext")
	}
	return append(a, args...)
}

// dialed returns o for an in-process end (session.Send, Receive and the
// like) that dialed a zcopy process started by the suite in mode m: the
// TLS client (Dialed), with the suite's token.
func (m secMode) dialed(o session.Options) session.Options {
	o.Dialed, o.Token, o.Plaintext = true, suiteToken, m.plaintext
	return o
}

// tlsMode is the default, the mode of every zcopy the suite starts
// without --plaintext.
var tlsMode = secModes[0]

// A peerConn is a hand-written peer's connection to a zcopy process: TCP
// in plaintext, or a TLS client connection over it (as zcopy's own:
// secure.ClientConfig) inside which the peer writes the protocol's
// records as it would in the clear.
type peerConn interface {
	net.Conn
	CloseWrite() error
}

// dialPeer connects to addr as a hand-written peer in mode m, within
// timeout. Inside TLS its Hellos must say so (peerFlags).
func dialPeer(m secMode, addr string, timeout time.Duration) (peerConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if m.plaintext {
		return c.(*net.TCPConn), nil
	}
	tc := tls.Client(c, secure.ClientConfig())
	tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// peerFlags are the Hello flags of a hand-written peer in mode m: inside
// TLS every zcopy peer says so (FlagTLS).
func (m secMode) peerFlags() uint8 {
	if m.plaintext {
		return 0
	}
	return proto.FlagTLS
}

// proc is a running zcopy, with what the suite asks of its servers.
type proc struct{ *testbin.Proc }

// start runs zcopy with args; it is killed at the end of the test if still
// running.
func start(t testing.TB, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(zcopyBin, args...))
}

// startIn runs zcopy with args inside network namespace ns.
func startIn(t testing.TB, ns string, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command("ip", append([]string{"netns", "exec", ns, zcopyBin}, args...)...))
}

// startLimited runs zcopy with args and at most nofile open descriptors
// (soft and hard limit, so the Go runtime cannot raise it). The shell
// execs zcopy, so the process is zcopy itself.
func startLimited(t testing.TB, nofile int, args ...string) *proc {
	t.Helper()
	script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile)
	return startCmd(t, exec.Command("sh", append([]string{"-c", script, zcopyBin}, args...)...))
}

func startCmd(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	return &proc{testbin.Start(t, cmd)}
}

// stopWaiting waits until the one-shot listener p has turned a peer away
// and said it waits for the next ("still waiting for a peer": a refused
// handshake does not use it up), then stops it with SIGTERM. It returns the
// exit status (143, for SIGTERM: nothing was transferred) and the log.
func (p *proc) stopWaiting(t testing.TB) (int, string) {
	t.Helper()
	p.WaitLog(t, "still waiting for a peer", 1)
	p.Cmd.Process.Signal(syscall.SIGTERM)
	return p.Wait(t)
}

// stop sends SIGTERM to a --keep server, which must exit 0; it returns the
// server's log.
func (p *proc) stop(t testing.TB) string {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	code, log := p.Wait(t)
	if code != 0 {
		t.Errorf("server exited %d after SIGTERM; log:\n%s", code, log)
	}
	return log
}

// peakRSS returns the peak resident set (VmHWM, KiB) of the running
// process. (getrusage's ru_maxrss for a child is no good here: Go starts
// children with vfork, and exec folds the parent's high-water mark into the
// child's, so a zcopy started by a large test process reports the test
// process's peak.)
func (p *proc) peakRSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the peak RSS: %v", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", p.Cmd.Process.Pid)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// run runs zcopy to completion (a hang guard of two minutes).
func run(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCmd(t, exec.Command(zcopyBin, args...))
}

// runIn runs zcopy to completion inside network namespace ns.
func runIn(t testing.TB, ns string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCmd(t, exec.Command("ip", append([]string{"netns", "exec", ns, zcopyBin}, args...)...))
}

func runCmd(t testing.TB, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	code, stdout, stderr, err := testbin.Run(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout, stderr
}

// runGo runs zcopy to completion from a goroutine other than the test's:
// it returns a failure to start or finish as err instead of ending the
// test.
func runGo(args ...string) (code int, stdout, stderr string, err error) {
	return testbin.Run(exec.Command(zcopyBin, args...))
}

// randomBytes returns n pseudo-random bytes from seed (ChaCha8).
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// writeRandom writes size random bytes to path and returns them.
func writeRandom(t testing.TB, path string, size int) []byte {
	t.Helper()
	seed := rand.Uint64()
	data := randomBytes(seed, size)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// arrived checks that the file at path holds exactly want: a file that is
// missing counts as lost, one that differs as corrupted.
func arrived(t testing.TB, path string, want []byte) bool {
	t.Helper()
	figs.mu.Lock()
	defer figs.mu.Unlock()
	figs.FilesChecked++
	got, err := os.ReadFile(path)
	if err != nil {
		figs.FilesLost++
		t.Errorf("lost: %v", err)
		return false
	}
	if !bytes.Equal(got, want) {
		figs.FilesCorrupted++
		t.Errorf("corrupted: %s holds %d bytes (first difference at %d), want %d identical bytes", path, len(got), firstDiff(got, want), len(want))
		return false
	}
	figs.Bytes += int64(len(got))
	return true
}

// arrivedAs checks, reading both in pieces, that the file at path holds
// exactly what the file at src holds; it counts like arrived.
func arrivedAs(t testing.TB, path, src string) bool {
	t.Helper()
	figs.mu.Lock()
	defer figs.mu.Unlock()
	figs.FilesChecked++
	n, err := testbin.CompareFiles(path, src)
	switch {
	case errors.Is(err, testbin.ErrMissing):
		figs.FilesLost++
		t.Errorf("lost: %v", err)
		return false
	case err != nil:
		figs.FilesCorrupted++
		t.Errorf("corrupted: %v", err)
		return false
	}
	figs.Bytes += n
	return true
}

// absent checks that no file exists at path: after a failed transfer,
// nothing may stand under the final name. One that does counts as
// corrupted (it would pass for the complete file).
func absent(t testing.TB, path string) bool {
	t.Helper()
	figs.mu.Lock()
	defer figs.mu.Unlock()
	figs.FilesChecked++
	if fi, err := os.Lstat(path); err == nil {
		figs.FilesCorrupted++
		t.Errorf("corrupted: %s exists (%d bytes) after a failed transfer", path, fi.Size())
		return false
	}
	return true
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// eventually polls cond every few milliseconds until it holds or timeout
// passes (a hang guard); it reports whether cond held.
func eventually(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(2 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// fileSize returns the size of path, or -1.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// sockets counts the sockets process pid holds open (/proc/PID/fd). What
// a server holds beyond the sockets it held before any client came (its
// listeners) are the connections it has accepted and not closed. The
// count is exact whatever else the machine does: /proc/PID/fd is the
// process's own table, read whole; /proc/net/tcp, by contrast, lists the
// whole network namespace a page at a time, and while other sockets come
// and go a line can be repeated or skipped.
func sockets(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n, nil
}

// waitConns waits until process pid holds at least n connections: n
// sockets more than base, the sockets it held before any client came. It
// looks every 50 ms, for at most timeout (a hang guard), and returns the
// most connections it saw held, and whether that reached n.
func waitConns(pid, base, n int, timeout time.Duration) (held int, ok bool) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if c, err := sockets(pid); err == nil {
			held = max(held, c-base)
		}
		if held >= n {
			return held, true
		}
		if time.Now().After(deadline) {
			return held, false
		}
	}
}
