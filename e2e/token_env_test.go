package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenEnv: $ZCOPY_TOKEN is a secret, and --help, which prints each
// flag's default, printed it as --token's (issue 14). Now the help of send
// and recv names the variable and never shows its value, and the variable
// is still the token when --token is not given: a push with it at both
// ends works, a sender that overrides it with another --token is refused,
// and one that turns it off with --token ” is told the ends disagree.
// --raw, which has no token, ignores the variable. (t.Setenv replaces the
// suite's own $ZCOPY_TOKEN, from TestMain, for the test's children.)
func TestTokenEnv(t *testing.T) {
	const secret = "env-canary-3c9d1f0e"
	t.Setenv("ZCOPY_TOKEN", secret)
	for _, cmd := range []string{"send", "recv"} {
		code, out, serr := run(t, cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d: %s", cmd, code, serr)
		}
		for _, l := range strings.Split(out+serr, "\n") {
			if strings.Contains(l, secret) {
				t.Errorf("%s --help prints the value of $ZCOPY_TOKEN: %q", cmd, strings.TrimSpace(l))
			}
		}
		if !strings.Contains(out, "--token SECRET") || !strings.Contains(out, "$ZCOPY_TOKEN") {
			t.Errorf("%s --help no longer documents --token and $ZCOPY_TOKEN:\n%s", cmd, out)
		}
	}

	dir := t.TempDir()
	src, data := randomFile(t, dir, "f.bin", 4096)
	for _, tc := range []struct {
		name string
		args []string // the sender's besides --to and the file
		want string   // in both ends' errors; "" for success
	}{
		{"env-at-both", nil, ""},
		{"sender-overrides", []string{"--token", "other"}, "authentication failed"},
		{"sender-turns-it-off", []string{"--token", ""}, "token mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst)
			code, _, serr := run(t, append(append([]string{"send", "--to", r.Addr(t)}, tc.args...), src)...)
			if tc.want == "" {
				rcode, rerr := r.Wait(t)
				if code != 0 || rcode != 0 {
					t.Fatalf("send exit %d %s; recv exit %d %s", code, serr, rcode, rerr)
				}
				sameFile(t, filepath.Join(dst, "f.bin"), data)
				return
			}
			rerr := strayLogged(t, r) // the receiver waits for another peer (issue 18)
			if code != 1 || !strings.Contains(serr, tc.want) || !strings.Contains(rerr, tc.want) {
				t.Errorf("send exit %d %q; recv %q; want 1 and %q at both", code, serr, rerr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dst, "f.bin")); err == nil {
				t.Error("the file arrived without the right token")
			}
		})
	}

	t.Run("raw-ignores-it", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.bin")
		r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "-o", out)
		if code, _, serr := run(t, "send", "--raw", "--to", r.Addr(t), src); code != 0 {
			t.Fatalf("send --raw with $ZCOPY_TOKEN set: exit %d: %s", code, serr)
		}
		if rcode, rerr := r.Wait(t); rcode != 0 {
			t.Fatalf("recv --raw with $ZCOPY_TOKEN set: exit %d: %s", rcode, rerr)
		}
		sameFile(t, out, data)
	})
}
