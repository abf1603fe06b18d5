package httpserve

import (
	"net/http"
	"testing"
	"time"
)

// TestPreconditions: the conditional header fields of RFC 9110, section
// 13, evaluated in the order of section 13.2.2, for a representation with
// ETag "v1" and Last-Modified 2021-03-04 05:06:07 UTC.
func TestPreconditions(t *testing.T) {
	mod := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	rep := &representation{etag: `"v1"`, modTime: mod.Add(300 * time.Millisecond), lastModified: mod.Format(http.TimeFormat)}
	at := mod.Format(http.TimeFormat)
	before := mod.Add(-time.Hour).Format(http.TimeFormat)
	after := mod.Add(time.Hour).Format(http.TimeFormat)
	for _, tc := range []struct {
		name string
		q    request
		want verdict
	}{
		{"none", request{}, proceed},
		{"if-match-same", request{ifMatch: `"v1"`}, proceed},
		{"if-match-star", request{ifMatch: "*"}, proceed},
		{"if-match-in-list", request{ifMatch: `"x", "v1"`}, proceed},
		{"if-match-other", request{ifMatch: `"v2"`}, preconditionBad},
		{"if-match-weak-never-strong", request{ifMatch: `W/"v1"`}, preconditionBad},
		{"if-match-unparsable", request{ifMatch: `v1`}, preconditionBad},
		{"if-unmodified-since-later", request{ifUnmodifiedSince: after}, proceed},
		{"if-unmodified-since-same-second", request{ifUnmodifiedSince: at}, proceed},
		{"if-unmodified-since-earlier", request{ifUnmodifiedSince: before}, preconditionBad},
		{"if-unmodified-since-invalid-ignored", request{ifUnmodifiedSince: "yesterday"}, proceed},
		{"if-match-overrides-if-unmodified-since", request{ifMatch: `"v1"`, ifUnmodifiedSince: before}, proceed},
		{"if-none-match-same", request{ifNoneMatch: `"v1"`}, notModified},
		{"if-none-match-weak", request{ifNoneMatch: `W/"v1"`}, notModified},
		{"if-none-match-star", request{ifNoneMatch: "*"}, notModified},
		{"if-none-match-other", request{ifNoneMatch: `"v2"`}, proceed},
		{"if-modified-since-same-second", request{ifModifiedSince: at}, notModified},
		{"if-modified-since-later", request{ifModifiedSince: after}, notModified},
		{"if-modified-since-earlier", request{ifModifiedSince: before}, proceed},
		{"if-modified-since-invalid-ignored", request{ifModifiedSince: "soon"}, proceed},
		{"if-none-match-overrides-if-modified-since", request{ifNoneMatch: `"v2"`, ifModifiedSince: after}, proceed},
		{"if-match-before-if-none-match", request{ifMatch: `"v2"`, ifNoneMatch: `"v1"`}, preconditionBad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.method = http.MethodGet
			if got := evalPreconditions(&q, rep); got != tc.want {
				t.Errorf("verdict %d; want %d", got, tc.want)
			}
		})
	}
	// Without a Last-Modified (a time of zero) the date conditions are
	// ignored: no 304 or 412 against a date the server never gave.
	undated := &representation{etag: `"v1"`}
	for _, q := range []request{{ifModifiedSince: after}, {ifUnmodifiedSince: before}} {
		q.method = http.MethodGet
		if got := evalPreconditions(&q, undated); got != proceed {
			t.Errorf("%+v without Last-Modified: verdict %d; want proceed", q, got)
		}
	}
	for _, tc := range []struct {
		ifRange string
		want    bool
	}{
		{"", true},
		{`"v1"`, true},
		{`W/"v1"`, false},
		{`"v2"`, false},
		{at, true},
		{after, false},
		{"garbage", false},
	} {
		q := request{method: http.MethodGet, ifRange: tc.ifRange}
		if got := rangeApplies(&q, rep); got != tc.want {
			t.Errorf("If-Range %q: the Range applies %v; want %v", tc.ifRange, got, tc.want)
		}
	}
}
