package e2e

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/internal/testbin"
)

// TestVersion: zcopy --version, zcopy version and zcopy -version print one
// line on stdout and exit 0, with the module version (a pseudo-version
// stamped from the VCS, or "(devel)"), the Go version, and the VCS revision when the build recorded
// it, read back from the binary by go version -m (issue 18). The suite's
// binary may be built with -buildvcs=false (GOFLAGS); the binary of the
// "buildvcs" subtest is built from this checkout with it on, so its
// revision is git's HEAD.
func TestVersion(t *testing.T) {
	check := func(t *testing.T, bin string) {
		rev, version := "", "(devel)"
		out, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil {
			t.Fatalf("go version -m: %v", err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if _, v, ok := strings.Cut(l, "vcs.revision="); ok {
				rev = strings.TrimSpace(v)
			}
			if f := strings.Fields(l); len(f) == 3 && f[0] == "mod" && f[1] == "github.com/zcopy/zcopy" {
				version = f[2]
			}
		}
		t.Logf("the binary records version %q, vcs.revision %q", version, rev)
		for _, args := range []string{"--version", "version", "-version"} {
			code, stdout, stderr, err := runBin(bin, args)
			if err != nil {
				t.Fatal(err)
			}
			if code != 0 || stderr != "" {
				t.Fatalf("%s: exit %d, stderr %q; want 0 and nothing", args, code, stderr)
			}
			want := []string{"zcopy " + version, runtime.Version()}
			if rev != "" {
				want = append(want, "revision "+rev)
			} else if strings.Contains(stdout, "revision") {
				t.Errorf("%s: %q names a revision the build did not record", args, stdout)
			}
			for _, w := range want {
				if !strings.Contains(stdout, w) {
					t.Errorf("%s: %q does not say %q", args, stdout, w)
				}
			}
		}
	}
	t.Run("suite-binary", func(t *testing.T) { check(t, zcopyBin) })
	t.Run("buildvcs", func(t *testing.T) {
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			t.Skipf("not in a git checkout: %v", err)
		}
		bin := filepath.Join(t.TempDir(), "zcopy")
		cmd := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "github.com/zcopy/zcopy/cmd/zcopy")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
		}
		check(t, bin)
		_, stdout, _, _ := runBin(bin, "--version")
		if !strings.Contains(stdout, strings.TrimSpace(string(head))) {
			t.Errorf("%q does not name HEAD, %s", stdout, head)
		}
	})
}

// runBin runs bin with args to completion.
func runBin(bin string, args ...string) (code int, stdout, stderr string, err error) {
	code, stdout, stderr, err = testbin.Run(exec.Command(bin, args...))
	return
}
