package httpserve

import "testing"

func TestCleanPath(t *testing.T) {
	for _, c := range []struct {
		in, want string
		bad      bool
	}{
		{"/", ".", false},
		{"/a", "a", false},
		{"/a/b/", "a/b", false},
		{"//a//b", "a/b", false},
		{"/./a/./b", "a/b", false},
		{"/..", "", true},
		{"/../a", "", true},
		{"/a/../b", "", true},
		{"/a/..", "", true},
		{"a", "", true},
		{"", "", true},
		{"/a\x00b", "", true},
		{"/...", "...", false},
		{"/..a", "..a", false},
	} {
		got, err := cleanPath(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, bad=%v", c.in, got, err, c.want, c.bad)
		}
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/../x", "/a/./../b", "//x", "/%2e%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, err := cleanPath(p)
		if err != nil {
			return
		}
		if name == "" || name[0] == '/' || name == ".." || len(name) >= 3 && name[:3] == "../" {
			t.Fatalf("cleanPath(%q) = %q: not a local name", p, name)
		}
	})
}
