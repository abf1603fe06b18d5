package httpserve

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestAccessLogLines: the combined format as nginx writes it, escapes
// included, and the JSON form with durations in seconds.
func TestAccessLogLines(t *testing.T) {
	start := time.Date(2026, 11, 30, 21, 5, 9, 0, time.FixedZone("", -5*3600))
	for _, tc := range []struct {
		name string
		r    Response
		want string
	}{
		{"refused-by-the-parser", Response{Remote: "192.0.2.7:51234", Status: 400, BodyBytes: 16},
			`192.0.2.7 - - [30/Nov/2026:21:05:09 -0500] "-" 400 16 "-" "-"` + "\n"},
		{"plain", Response{Remote: "192.0.2.7:51234", Method: "GET", RequestURI: "/a.txt?x=1", Proto: "HTTP/1.1", Status: 200, BodyBytes: 6, Referer: "http://example.test/", UserAgent: "curl/8.5"},
			`192.0.2.7 - - [30/Nov/2026:21:05:09 -0500] "GET /a.txt?x=1 HTTP/1.1" 200 6 "http://example.test/" "curl/8.5"` + "\n"},
		{"empty-fields", Response{Remote: "[2001:db8::1]:80", Method: "HEAD", RequestURI: "/", Proto: "HTTP/1.0", Status: 304},
			`2001:db8::1 - - [30/Nov/2026:21:05:09 -0500] "HEAD / HTTP/1.0" 304 0 "-" "-"` + "\n"},
		{"escapes", Response{Remote: "192.0.2.7:1", Method: "GET", RequestURI: "/\"q\"\\\x01\xff", Proto: "HTTP/1.1", Status: 400, UserAgent: "a\"b"},
			`192.0.2.7 - - [30/Nov/2026:21:05:09 -0500] "GET /\x22q\x22\x5C\x01\xFF HTTP/1.1" 400 0 "-" "a\x22b"` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.Start = start
			if got := string(combinedLine(nil, &r)); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	r := Response{Remote: "192.0.2.7:1", Method: "GET", RequestURI: "/f", Proto: "HTTP/1.1", Status: 200, BodyBytes: 10,
		Start: start, Duration: 1500 * time.Millisecond, SendMethod: "sendfile", Outcome: Truncated, Err: errors.New("shrank")}
	var rec map[string]any
	if err := json.Unmarshal(jsonLine(&r), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["duration_s"] != 1.5 || rec["uri"] != "/f" || rec["outcome"] != "truncated" || rec["error"] != "shrank" || rec["bytes"] != 10.0 {
		t.Errorf("JSON line %v: want duration_s 1.5, uri /f, outcome truncated, error, bytes 10", rec)
	}
}
