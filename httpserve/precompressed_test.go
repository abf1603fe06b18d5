package httpserve_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// TestPrecompressed: with Config.Precompressed, curl --compressed gets the
// original's bytes back from NAME.br, NAME.zst and NAME.gz (made by the
// brotli, zstd and gzip tools), each sent by the engine, with
// Content-Encoding, the original's Content-Type, Vary and an ETag per
// encoding; a client that asks for no encoding, or one that refuses
// them all, gets the original; a Range applies to the encoded bytes.
func TestPrecompressed(t *testing.T) {
	dir := t.TempDir()
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 2000))
	orig := filepath.Join(dir, "page.html")
	if err := os.WriteFile(orig, text, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tool := range [][]string{
		{"gzip", "-k", "-9", orig},
		{"brotli", "-k", orig},
		{"zstd", "-q", "-k", orig},
	} {
		mustRun(t, time.Minute, testbin.NeedTool(t, tool[0]), tool[1:]...)
	}
	ts := startServer(t, httpserve.Config{Dir: dir, Precompressed: true})
	u := ts.URL + "/page.html"
	etags := map[string]bool{}
	n := 0 // responses so far
	for _, c := range []struct {
		name, accept, coding, file string
	}{
		{"br", "br", "br", ".br"},
		{"zstd", "zstd", "zstd", ".zst"},
		{"gzip", "gzip", "gzip", ".gz"},
		{"preference", "gzip, zstd, br", "br", ".br"},
		{"weights", "gzip;q=1, br;q=0.5", "gzip", ".gz"},
		{"star-but-br", "*, br;q=0", "zstd", ".zst"},
		{"none", "", "", ""},
		{"refused", "identity, gzip;q=0", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{}
			if c.accept != "" {
				args = append(args, "-H", "Accept-Encoding: "+c.accept)
			}
			r := curl(t, append(args, u)...)
			n++
			resp := ts.nthResponse(t, n)
			if r.status != 200 || r.header.Get("Content-Encoding") != c.coding ||
				r.header.Get("Vary") != "Accept-Encoding" || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("status %d, Content-Encoding %q, Vary %q, Content-Type %q; want 200, %q, Accept-Encoding, text/html",
					r.status, r.header.Get("Content-Encoding"), r.header.Get("Vary"), r.header.Get("Content-Type"), c.coding)
			}
			want := text
			if c.file != "" {
				want, _ = os.ReadFile(orig + c.file)
			}
			if !bytes.Equal(r.body, want) {
				t.Errorf("body of %d bytes is not %s (%d bytes)", len(r.body), "page.html"+c.file, len(want))
			}
			checkEngine(t, resp, wantMethodFor(int64(len(want))))
			etags[r.header.Get("ETag")] = true
			// curl --compressed decodes it back to the original.
			if c.coding != "" {
				d := curl(t, "--compressed", "-H", "Accept-Encoding: "+c.accept, u)
				n++
				if !bytes.Equal(d.body, text) {
					t.Errorf("curl --compressed: %d bytes, not the original's %d", len(d.body), len(text))
				}
			}
		})
	}
	if len(etags) != 4 {
		t.Errorf("ETags %v: want one per encoding and one for the original", etags)
	}
	t.Run("range-over-encoded", func(t *testing.T) {
		gz, _ := os.ReadFile(orig + ".gz")
		r := curl(t, "-H", "Accept-Encoding: gzip", "-r", "10-19", u)
		if r.status != http.StatusPartialContent || !bytes.Equal(r.body, gz[10:20]) || r.header.Get("Content-Encoding") != "gzip" {
			t.Errorf("status %d, %q, Content-Encoding %q; want 206 and bytes 10-19 of page.html.gz", r.status, r.body, r.header.Get("Content-Encoding"))
		}
	})
	// A multipart/byteranges cannot carry a Content-Encoding that means
	// its parts' bytes are encoded: several ranges come from the original.
	t.Run("multirange-from-original", func(t *testing.T) {
		r := curl(t, "-H", "Accept-Encoding: gzip, br", "-r", "0-9,20-29", u)
		if r.status != http.StatusPartialContent || r.header.Get("Content-Encoding") != "" ||
			!strings.HasPrefix(r.header.Get("Content-Type"), "multipart/byteranges") || r.header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("status %d, Content-Encoding %q, Content-Type %q, Vary %q; want 206 multipart/byteranges of the original, no Content-Encoding, Vary",
				r.status, r.header.Get("Content-Encoding"), r.header.Get("Content-Type"), r.header.Get("Vary"))
		}
		if !bytes.Contains(r.body, text[0:10]) || !bytes.Contains(r.body, text[20:30]) || !bytes.Contains(r.body, []byte(fmt.Sprintf("bytes 20-29/%d", len(text)))) {
			t.Errorf("parts are not the original's bytes 0-9 and 20-29:\n%s", r.body)
		}
	})
	t.Run("off-by-default", func(t *testing.T) {
		plain := startServer(t, httpserve.Config{Dir: dir})
		r := curl(t, "-H", "Accept-Encoding: br, gzip", plain.URL+"/page.html")
		if r.header.Get("Content-Encoding") != "" || r.header.Get("Vary") != "" || !bytes.Equal(r.body, text) {
			t.Errorf("without Precompressed: Content-Encoding %q, Vary %q", r.header.Get("Content-Encoding"), r.header.Get("Vary"))
		}
	})
}
