package e2e

import (
	"path/filepath"
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
