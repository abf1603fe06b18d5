package httpserve_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/httpserve"
)

// TestListingAndDotfiles: names that start with a dot are neither served
// (404, as if absent) nor listed unless Config.Dotfiles; a symbolic link
// that leads out of the root is not listed; the listing puts directories
// first, sorts names as people do (case folded), marks directories with a
// slash, gives times with their zone and has a viewport tag; Config.Index
// picks the index file.
func TestListingAndDotfiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, p := range []string{"b.txt", "A.txt", "c.TXT", ".env", ".git/config", "Zdir/x", "adir/y", "site/index.htm"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "escape"))
	os.Symlink("b.txt", filepath.Join(dir, "link-in"))
	// Links inside the root that lead to dotfiles (an attack review
	// found them served): not served and not listed either.
	os.Symlink(".env", filepath.Join(dir, "envlink"))
	os.Symlink(".git", filepath.Join(dir, "gitlink"))
	os.Symlink("../.env", filepath.Join(dir, "adir", "up"))
	os.Symlink("gitlink/config", filepath.Join(dir, "chain"))

	get := func(base, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ts := startServer(t, httpserve.Config{Dir: dir, Index: []string{"index.html", "index.htm"}})
	for _, p := range []string{"/.env", "/.git/config", "/.git/", "/%2egit/config",
		"/envlink", "/gitlink/config", "/gitlink/", "/adir/up", "/chain"} {
		if code, _ := get(ts.URL, p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d; want 404 (dotfiles are not served, however reached)", p, code)
		}
	}
	if _, page := get(ts.URL, "/adir/"); strings.Contains(page, ">up<") {
		t.Errorf("the listing of /adir/ shows up, a link to a dotfile")
	}
	code, page := get(ts.URL, "/")
	if code != 200 {
		t.Fatalf("listing: %d", code)
	}
	var names []string
	for _, m := range regexp.MustCompile(`<a href="[^"]*">([^<]*)</a>`).FindAllStringSubmatch(page, -1) {
		names = append(names, m[1])
	}
	want := []string{"adir/", "site/", "Zdir/", "A.txt", "b.txt", "c.TXT", "link-in"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("listed %v; want %v (directories first, case folded, no dotfiles, no link out of the root)", names, want)
	}
	for _, w := range []string{`name="viewport"`, " UTC</td>"} {
		if !strings.Contains(page, w) {
			t.Errorf("the listing lacks %q", w)
		}
	}
	if code, body := get(ts.URL, "/site/"); code != 200 || body != "site/index.htm" {
		t.Errorf("GET /site/: %d %q; want index.htm, the second index name", code, body)
	}

	open := startServer(t, httpserve.Config{Dir: dir, Dotfiles: true})
	for _, p := range []string{"/.env", "/envlink", "/adir/up"} {
		if code, body := get(open.URL, p); code != 200 || body != ".env" {
			t.Errorf("with Dotfiles, GET %s: %d %q", p, code, body)
		}
	}
	if code, body := get(open.URL, "/chain"); code != 200 || body != ".git/config" {
		t.Errorf("with Dotfiles, GET /chain: %d %q", code, body)
	}
	if _, page := get(open.URL, "/"); !strings.Contains(page, ">.git/<") {
		t.Errorf("with Dotfiles, the listing leaves out .git/")
	}
	if code, _ := get(open.URL, "/site/"); code != 200 {
		t.Errorf("GET /site/ without index.htm among the index names: %d; want the listing", code)
	}
}
