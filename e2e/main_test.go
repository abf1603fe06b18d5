package e2e

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/internal/testbin"
)

// zcopyBin is the binary under test, built once by TestMain.
var zcopyBin string

func TestMain(m *testing.M) {
	bin, remove := testbin.MustBuild("zcopy-e2e-")
	zcopyBin = bin
	// Every zcopy this suite starts inherits one strong token: a listening
	// end started without a token makes its own (and prints it), which the
	// dialing end would not have. Tests of tokens themselves set or clear
	// it in their commands' environment (see withoutToken).
	os.Setenv("ZCOPY_TOKEN", secure.NewToken())
	code := m.Run()
	remove()
	os.Exit(code)
}

// proc is a running zcopy.
type proc = testbin.Proc

// A mode is how a framed transfer is protected: inside TLS (the default,
// no flag) or in the clear (--plaintext, which both ends need). Tests of
// what must hold either way run once in each, as subtests named after it.
type mode struct {
	name  string
	flags []string // given to both ends
}

var modes = []mode{{"tls", nil}, {"plaintext", []string{"--plaintext"}}}

// args returns a zcopy command line: verb, m's flags, then args.
func (m mode) args(verb string, args ...string) []string {
	return append(append([]string{verb}, m.flags...), args...)
}

// methods are the methods a framed transfer reports under m by default:
// sendfile and splice in plaintext (zero copy); inside TLS the bodies are
// encrypted in user space, so readwrite at both ends.
func (m mode) methods() (send, recv string) {
	if m.name == "plaintext" {
		return "sendfile", "splice"
	}
	return "readwrite", "readwrite"
}

// withoutToken returns cmd with $ZCOPY_TOKEN removed from its environment
// (TestMain sets it for every child), for tests of tokens themselves.
func withoutToken(cmd *exec.Cmd) *exec.Cmd {
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = nil
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ZCOPY_TOKEN=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if cmd.Env == nil {
		cmd.Env = []string{} // not nil: nil would mean the whole environment
	}
	return cmd
}

// start runs zcopy with args; it is killed at the end of the test if still
// running.
func start(t testing.TB, args ...string) *proc {
	t.Helper()
	return testbin.Start(t, exec.Command(zcopyBin, args...))
}

// run runs zcopy to completion.
func run(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	code, stdout, stderr, err := testbin.Run(exec.Command(zcopyBin, args...))
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout, stderr
}

// randomFile writes size random bytes to dir/name and returns the path and
// the bytes; the seed is logged.
func randomFile(t testing.TB, dir, name string, size int) (string, []byte) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random data seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, size)
	for i := 0; i < len(data); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(data); j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// sameFile fails the test unless the file at path holds want.
func sameFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, want %d identical bytes", path, len(got), len(want))
	}
}

// sameContent fails the test unless the files at got and want hold the same
// bytes (compared a MiB at a time).
func sameContent(t testing.TB, got, want string) {
	t.Helper()
	if _, err := testbin.CompareFiles(got, want); err != nil {
		t.Fatal(err)
	}
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Scan()
	return sc.Text()
}

// readAll reads r until an error, returning what it read.
func readAll(r *bufio.Reader) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}
