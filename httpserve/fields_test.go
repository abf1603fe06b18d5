package httpserve

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestFieldNamesCanonical: the field names the fast path reads with
// PeekCanonical are the form fasthttp stores a received name in, however
// the client spelled it; a name not in that form would never match, and
// its precondition or range would be silently ignored.
func TestFieldNamesCanonical(t *testing.T) {
	for _, name := range [][]byte{fieldAcceptEncoding, fieldRange, fieldIfMatch, fieldIfNoneMatch, fieldIfModifiedSince,
		fieldIfUnmodifiedSince, fieldIfRange, fieldReferer, fieldUserAgent, fieldTransferEncoding} {
		value := "v1"
		if string(name) == "Transfer-Encoding" {
			value = "chunked" // fasthttp refuses any other
		}
		for _, spelled := range []string{strings.ToLower(string(name)), strings.ToUpper(string(name)), string(name)} {
			var req fasthttp.Request
			raw := "GET / HTTP/1.1\r\nHost: x\r\n" + spelled + ": " + value + "\r\n\r\n"
			if err := req.Header.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatalf("%s: %v", spelled, err)
			}
			if got := peek(&req.Header, name); got != value {
				t.Errorf("sent as %q, %q reads %q, want %q", spelled, name, got, value)
			}
		}
	}
}
