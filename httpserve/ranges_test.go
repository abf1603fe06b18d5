package httpserve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestScreenRange: the Range header net/http gets, for each spelling a
// client may send (RFC 9110, section 14.1.1), on a 100-byte file.
func TestScreenRange(t *testing.T) {
	many := "bytes=" + strings.Repeat("0-0,", maxRanges) + "1-1"
	for _, tc := range []struct {
		name, in, want string // want: the Range left for ServeContent
	}{
		{"none", "", ""},
		{"plain", "bytes=0-9", "bytes=0-9"},
		{"open", "bytes=90-", "bytes=90-"},
		{"suffix", "bytes=-5", "bytes=-5"},
		{"unit-case", "Bytes=0-9", "bytes=0-9"},
		{"unknown-unit", "items=0-5", ""},
		{"no-equals", "bytes 0-5", ""},
		{"suffix-zero", "bytes=-0", "bytes=100-"},
		{"suffix-zeros", "bytes=-00", "bytes=100-"},
		{"suffix-plus-zero", "bytes=-+0", "bytes=100-"},
		{"plus-sign", "bytes=+1-5", "bytes=100-"},
		{"leading-zeros", "bytes=0005-0009", "bytes=5-9"},
		{"space-inside", "bytes=0 - 5", "bytes=100-"},
		{"space-around-commas", "bytes=0-5 , 7-8", "bytes=0-5,7-8"},
		{"space-after-equals", "bytes= 0-5", "bytes=100-"},
		{"tab-after-equals", "bytes=\t0-5", "bytes=100-"},
		{"space-after-comma", "bytes=,\t0-5", "bytes=0-5"},
		{"empty-elements", "bytes=,0-5,,", "bytes=0-5"},
		{"last-before-first", "bytes=5-4", "bytes=100-"},
		{"past-end", "bytes=100-200", "bytes=100-"},
		{"past-end-and-more", "bytes=100-200,0-4", "bytes=0-4"},
		{"suffix-zero-and-more", "bytes=-0,0-4", "bytes=0-4"},
		{"empty-set", "bytes=", ""},
		{"only-commas", "bytes=, ,", ""},
		{"huge", "bytes=0-99999999999999999999999", "bytes=0-9223372036854775807"},
		{"too-many", many, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/f", nil)
			if tc.in != "" {
				r.Header.Set("Range", tc.in)
			}
			screenRange(r, 100)
			if got := r.Header.Get("Range"); got != tc.want {
				t.Errorf("Range %q became %q; want %q", tc.in, got, tc.want)
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/f", nil)
	r.Header.Set("Range", "bytes=-5")
	if screenRange(r, 0); r.Header.Get("Range") != "" {
		t.Errorf("a Range on an empty file is left as %q; want it ignored", r.Header.Get("Range"))
	}
}
