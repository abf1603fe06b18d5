package httpserve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestScreenRange(t *testing.T) {
	many := "bytes=" + strings.Repeat("0-0,", maxRanges) + "1-1"
	for _, tc := range []struct {
		name, in   string
		answered   bool
		wantHeader string // Range left for ServeContent
	}{
		{"none", "", false, ""},
		{"plain", "bytes=0-9", false, "bytes=0-9"},
		{"unknown-unit", "items=0-5", false, ""},
		{"suffix-zero", "bytes=-0", true, "bytes=-0"},
		{"suffix-zero-and-more", "bytes=-0,0-4", false, "bytes=0-4"},
		{"too-many", many, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/f", nil)
			if tc.in != "" {
				r.Header.Set("Range", tc.in)
			}
			w := httptest.NewRecorder()
			got := screenRange(w, r, 100)
			if got != tc.answered || r.Header.Get("Range") != tc.wantHeader {
				t.Errorf("answered %v, Range %q; want %v, %q", got, r.Header.Get("Range"), tc.answered, tc.wantHeader)
			}
			if got && (w.Code != http.StatusRequestedRangeNotSatisfiable || w.Header().Get("Content-Range") != "bytes */100") {
				t.Errorf("answer %d %q", w.Code, w.Header().Get("Content-Range"))
			}
		})
	}
}
