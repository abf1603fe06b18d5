package remote

import (
	"os/exec"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		arg         string
		login, path string
		remote      bool
	}{
		{"host:dir", "host", "dir", true},
		{"host:", "host", "", true},
		{"user@host:/srv/in", "user@host", "/srv/in", true},
		{"host:a:b", "host", "a:b", true},
		{"[::1]:dir", "::1", "dir", true},
		{"me@[fe80::1%eth0]:d", "me@fe80::1%eth0", "d", true},
		{"./a:b", "", "", false},
		{"/x:y", "", "", false},
		{"a/b:c", "", "", false},
		{":x", "", "", false},
		{"plain", "", "", false},
		{"[::1]", "", "", false},
		{"[]:x", "", "", false},
		{"a@b/c:d", "", "", false},
	} {
		s, ok := Parse(tc.arg)
		if ok != tc.remote || s.Login != tc.login || s.Path != tc.path {
			t.Errorf("Parse(%q) = %+v, %v; want {%q %q}, %v", tc.arg, s, ok, tc.login, tc.path, tc.remote)
		}
	}
	if h := (Spec{Login: "me@host"}).Host(); h != "host" {
		t.Errorf("Host of me@host = %q", h)
	}
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"ssh", []string{"ssh"}},
		{"  ssh -p 2222   -i key ", []string{"ssh", "-p", "2222", "-i", "key"}},
		{`ssh -i 'my key' -o "ProxyCommand=nc %h \"%p\""`, []string{"ssh", "-i", "my key", "-o", `ProxyCommand=nc %h "%p"`}},
		{`ssh -i my\ key`, []string{"ssh", "-i", "my key"}},
		{`ssh ''`, []string{"ssh", ""}},
	} {
		got, err := SplitCommand(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "   ", `ssh 'open`, `ssh "open`} {
		if got, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) = %q, want an error", bad, got)
		}
	}
}

// TestQuote runs each quoted word through a real sh and checks that it
// comes back as it was; a leading ~/ is expanded by that shell.
func TestQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	words := []string{"plain", "with space", "it's", `a"b`, "$HOME", "`id`", "a;b|c&d", "*", "", "-n", "new\nline", "tab\there", `back\slash`}
	out, err := exec.Command(sh, "-c", `printf '%s\0' `+Join(words)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := splitNUL(string(out))
	if !slices.Equal(got, words) {
		t.Errorf("through sh: %q, want %q", got, words)
	}
	out, err = exec.Command(sh, "-c", `HOME=/h; printf '%s\0' `+Join([]string{"~/a b", "~", "x~/y"})).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := splitNUL(string(out)), []string{"/h/a b", "/h", "x~/y"}; !slices.Equal(got, want) {
		t.Errorf("tilde through sh: %q, want %q", got, want)
	}
}

func splitNUL(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != 0 {
			i++
		}
		out = append(out, s[:i])
		s = s[min(i+1, len(s)):]
	}
	return out
}
