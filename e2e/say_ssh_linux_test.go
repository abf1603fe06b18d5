package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSSHResumesByDefault: the one-command forms resume by default too:
// `zcopy send PATH HOST:DIR` (its far receiver) and `zcopy recv
// HOST:PATH DIR` (this end) continue a part that an interrupted transfer
// left, sending only the missing bytes; `zcopy send --no-resume PATH
// HOST:DIR` has its far receiver start over.
func TestSSHResumesByDefault(t *testing.T) {
	s := startSSHD(t)
	size := int64(32 << 20)
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, size)
	m := modes[0] // encrypted: the default of the one-command form
	for _, tc := range []struct {
		name    string
		args    func(dst string) []string
		resumes bool
	}{
		{"push", func(dst string) []string { return []string{"send", "--json", src, "127.0.0.1:" + dst} }, true},
		{"pull", func(dst string) []string { return []string{"recv", "--json", "127.0.0.1:" + src, dst} }, true},
		{"push-no-resume", func(dst string) []string { return []string{"send", "--json", "--no-resume", src, "127.0.0.1:" + dst} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			kept := interruptRecv(t, m, "push", src, dst, size/4)
			args := tc.args(dst)
			code, out, serr := run(t, append(append([]string{args[0]}, s.args()...), args[1:]...)...)
			if code != 0 {
				t.Fatalf("%q: exit %d\n%s", args, code, serr)
			}
			res := parseResult(t, out)
			want := size
			if tc.resumes {
				want = size - kept
			}
			if res.BytesSent != want {
				t.Errorf("%q after a part of %d bytes: %d sent, want %d", args, kept, res.BytesSent, want)
			}
			sameContent(t, filepath.Join(dst, "f.bin"), src)
			s.noneLeft(t)
		})
	}
}

// TestSSHOverwriteHint: `zcopy send PATH HOST:DIR` into a DIR where the
// file exists and differs is refused (exit 23), and the hint names the
// flag the user has there: zcopy send --overwrite, which passes it on to
// the far receiver; with it the file is replaced.
func TestSSHOverwriteHint(t *testing.T) {
	s := startSSHD(t)
	src, data := randomFile(t, t.TempDir(), "f.bin", 100<<10)
	dst := t.TempDir()
	randomFile(t, dst, "f.bin", 50<<10)
	ssh := func(args ...string) (int, string) {
		code, _, serr := run(t, append(append([]string{"send"}, s.args()...), args...)...)
		return code, serr
	}
	code, serr := ssh(src, "127.0.0.1:"+dst)
	if code != 23 || !strings.Contains(serr, "exists and differs (zcopy send --overwrite replaces it)") || strings.Contains(serr, "zcopy recv --overwrite") {
		t.Errorf("a file that differs: exit %d; want 23 and a hint at zcopy send --overwrite:\n%s", code, serr)
	}
	if code, serr := ssh("--overwrite", src, "127.0.0.1:"+dst); code != 0 {
		t.Fatalf("--overwrite: exit %d\n%s", code, serr)
	}
	sameFile(t, filepath.Join(dst, "f.bin"), data)
	s.noneLeft(t)
}
