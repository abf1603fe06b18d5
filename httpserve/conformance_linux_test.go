package httpserve_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// The differential conformance suite (issue 16): every request of a
// generated grid of Range and conditional headers goes to nginx and to
// zcopy's server on the same directory, and the answers are compared. Where
// they differ, zcopy must be following RFC 9110 where nginx does not: such a
// request is a listed departure (see departures), checked against what the
// RFC asks, not waved through. Any other difference fails the test.

// confModTime is the files' modification time: fixed and long past, so
// Last-Modified is a strong validator (RFC 9110, 8.8.2.2) and If-Range with
// a date may match.
var confModTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

// confSizes are the sizes of the files served.
var confSizes = []int64{0, 1, 10, 4096, 1<<20 + 1}

// confReq is one request of the grid. Header values may hold {etag} and
// {lm}: the ETag and Last-Modified of the file as the server answering
// gave them to a plain GET.
type confReq struct {
	method string
	size   int64       // of the file asked for
	hdrs   [][2]string // in order
}

func (q confReq) path() string { return "/f" + strconv.FormatInt(q.size, 10) }

func (q confReq) get(name string) (string, bool) {
	for _, h := range q.hdrs {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

func (q confReq) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", q.method, q.path())
	for _, h := range q.hdrs {
		fmt.Fprintf(&b, " [%s: %q]", h[0], h[1])
	}
	return b.String()
}

// confPart is one part of a multipart/byteranges body.
type confPart struct {
	cr   string
	body []byte
}

// confAns is what a server answered, reduced to what is compared.
type confAns struct {
	status    int
	cr        string // Content-Range
	cl        string // Content-Length
	etag, lm  bool   // present
	multipart bool
	parts     []confPart
	body      []byte // not for multipart
	err       string // transport or parse error
}

func (a confAns) String() string {
	if a.err != "" {
		return "error: " + a.err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d", a.status)
	if a.cr != "" {
		fmt.Fprintf(&b, " CR=%q", a.cr)
	}
	if a.cl != "" {
		fmt.Fprintf(&b, " CL=%s", a.cl)
	}
	fmt.Fprintf(&b, " etag=%v lm=%v", a.etag, a.lm)
	if a.multipart {
		b.WriteString(" multipart[")
		for i, p := range a.parts {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%q:%dB", p.cr, len(p.body))
		}
		b.WriteString("]")
	} else {
		fmt.Fprintf(&b, " body=%dB", len(a.body))
	}
	return b.String()
}

// diff returns what differs between nginx's answer n and zcopy's z, or "".
func (n confAns) diff(z confAns) string {
	var d []string
	if n.err != "" || z.err != "" {
		if n.err != z.err {
			return "error"
		}
		return ""
	}
	if n.status != z.status {
		return "status"
	}
	if n.cr != z.cr {
		d = append(d, "Content-Range")
	}
	ok2xx := n.status/100 == 2
	if ok2xx {
		// Part headers and boundaries differ by design, so the length of
		// a multipart body does too: its parts are compared instead.
		if !n.multipart && !z.multipart && n.cl != z.cl {
			d = append(d, "Content-Length")
		}
		if n.etag != z.etag || n.lm != z.lm {
			d = append(d, "validators")
		}
		if n.multipart != z.multipart {
			d = append(d, "multipart")
		} else if n.multipart {
			if len(n.parts) != len(z.parts) {
				d = append(d, "parts")
			} else {
				for i := range n.parts {
					if n.parts[i].cr != z.parts[i].cr || !bytes.Equal(n.parts[i].body, z.parts[i].body) {
						d = append(d, "parts")
						break
					}
				}
			}
		} else if !bytes.Equal(n.body, z.body) {
			d = append(d, "body")
		}
	}
	if n.status == http.StatusNotModified && (n.etag != z.etag) {
		d = append(d, "304 ETag")
	}
	return strings.Join(d, ",")
}

// departure is a request where nginx departs from RFC 9110 and zcopy
// follows it: applies says whether the request is one, rfc whether zcopy's
// answer is what the RFC asks for (or allows).
type departure struct {
	name, section, rfc, nginx string
	applies                   func(q confReq) bool
	ok                        func(q confReq, z confAns, full []byte) bool
}

// Header facts the departures test.
func has(q confReq, name string) bool { _, ok := q.get(name); return ok }

func validDate(s string) bool { _, err := http.ParseTime(s); return err == nil }

// rangeValid reports whether a Range value is a valid bytes
// ranges-specifier by the grammar of RFC 9110, 14.1.1 (unit names are
// case-insensitive; list elements may be empty and surrounded by OWS,
// 5.6.1), and whether it names a unit other than bytes.
func rangeSyntax(v string) (valid, otherUnit bool) {
	unit, set, ok := strings.Cut(v, "=")
	if !ok || unit == "" || strings.ContainsAny(unit, " \t") {
		return false, false
	}
	if !strings.EqualFold(unit, "bytes") {
		return false, true
	}
	specs := 0
	for i, el := range strings.Split(set, ",") {
		// A recipient accepts [ element ] *( OWS "," OWS [ element ] ):
		// OWS next to a comma, never before the first element.
		if i == 0 && strings.TrimLeft(el, " \t") != el {
			return false, false
		}
		el = strings.Trim(el, " \t")
		if el == "" {
			continue
		}
		specs++
		first, last, ok := strings.Cut(el, "-")
		if !ok || (first == "" && last == "") || !digits(first, true) || !digits(last, true) {
			return false, false
		}
		if first != "" && last != "" && numLess(last, first) {
			return false, false
		}
	}
	return specs > 0, false
}

// numLess compares two decimal numbers of any length.
func numLess(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func digits(s string, emptyOK bool) bool {
	if s == "" {
		return emptyOK
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isFull reports whether z is the whole file with 200 (HEAD: no body).
func isFull(q confReq, z confAns, full []byte) bool {
	if z.status != http.StatusOK || z.cr != "" || z.multipart || z.cl != strconv.Itoa(len(full)) {
		return false
	}
	if q.method == http.MethodHead {
		return len(z.body) == 0
	}
	return bytes.Equal(z.body, full)
}

// is416 reports whether z is a 416 with "bytes */SIZE".
func is416(q confReq, z confAns, full []byte) bool {
	return z.status == http.StatusRequestedRangeNotSatisfiable && z.cr == fmt.Sprintf("bytes */%d", len(full))
}

// isPartial reports whether z is a 206 whose every range lies in the file
// and whose bytes are the file's there (HEAD: the headers only).
func isPartial(q confReq, z confAns, full []byte) bool {
	if z.status != http.StatusPartialContent {
		return false
	}
	check := func(cr string, body []byte) bool {
		var a, b, n int
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &a, &b, &n); err != nil || n != len(full) || a > b || b >= n {
			return false
		}
		return q.method == http.MethodHead || bytes.Equal(body, full[a:b+1])
	}
	if z.multipart {
		if q.method == http.MethodGet && len(z.parts) < 2 {
			return false
		}
		for _, p := range z.parts {
			if !check(p.cr, p.body) {
				return false
			}
		}
		return true
	}
	var a, b int
	fmt.Sscanf(z.cr, "bytes %d-%d/", &a, &b)
	return check(z.cr, z.body) && z.cl == strconv.Itoa(b-a+1)
}

var departures = []departure{
	{
		name: "Range on HEAD", section: "14.2",
		rfc:   "a server MUST ignore a Range received with a method for which range handling is not defined, and GET is the only one: HEAD gets the header fields of the answer without the Range (200, 304 or 412)",
		nginx: "answers HEAD with a Range as it answers GET: the 206's or 416's header fields",
		applies: func(q confReq) bool {
			return q.method == http.MethodHead && has(q, "Range")
		},
		ok: func(q confReq, z confAns, full []byte) bool {
			switch z.status {
			case http.StatusOK:
				return isFull(q, z, full)
			case http.StatusNotModified, http.StatusPreconditionFailed:
				return z.cr == "" && len(z.body) == 0
			}
			return false
		},
	},
	{
		name: "valid range set nginx cannot parse", section: "14.1.1, 5.6.1",
		rfc:   "range-set = 1#range-spec: empty list elements and OWS (tabs too) around commas are accepted; first-pos and last-pos are 1*DIGIT of any length",
		nginx: "416 for empty elements (\"0-1,,2-3\", \",0-1\"), a tab after a comma, and a position past 2^63",
		applies: func(q confReq) bool {
			v, ok := q.get("Range")
			valid, _ := rangeSyntax(v)
			_, set, _ := strings.Cut(v, "=")
			long := false
			for _, f := range strings.FieldsFunc(set, func(r rune) bool { return r < '0' || r > '9' }) {
				long = long || len(f) > 18
			}
			return ok && valid && q.size > 0 && (strings.Contains(set, "\t") || long ||
				slices.ContainsFunc(strings.Split(set, ","), func(e string) bool { return strings.Trim(e, " \t") == "" }))
		},
		ok: func(q confReq, z confAns, full []byte) bool {
			return isPartial(q, z, full) || isFull(q, z, full) || ifRangeFalse(q) && isFull(q, z, full)
		},
	},
	{
		name: "If-Modified-Since later than Last-Modified", section: "13.1.3",
		rfc:   "the condition is false (304) when Last-Modified is earlier than or equal to the date",
		nginx: "if_modified_since exact (its default): any date but Last-Modified itself is 'modified', 200",
		applies: func(q confReq) bool {
			v, ok := q.get("If-Modified-Since")
			t, err := http.ParseTime(v)
			return ok && err == nil && t.After(confModTime) && !has(q, "If-None-Match") && !has(q, "If-Match") && !has(q, "If-Unmodified-Since")
		},
		ok: func(q confReq, z confAns, full []byte) bool { return z.status == http.StatusNotModified },
	},
	{
		name: "If-Modified-Since with If-None-Match", section: "13.1.3",
		rfc:   "a recipient MUST ignore If-Modified-Since if the request contains If-None-Match",
		nginx: "evaluates both and answers 304 only if both say not modified",
		applies: func(q confReq) bool {
			return has(q, "If-Modified-Since") && has(q, "If-None-Match")
		},
		ok: func(q confReq, z confAns, full []byte) bool {
			inm, _ := q.get("If-None-Match")
			match := inm == "*" || strings.Contains(inm, "{etag}")
			if match {
				return z.status == http.StatusNotModified
			}
			return z.status != http.StatusNotModified
		},
	},
	{
		name: "invalid If-Unmodified-Since", section: "13.1.4",
		rfc:   "a recipient MUST ignore If-Unmodified-Since if the value is not a valid HTTP-date",
		nginx: "takes an unparsable date as earlier than Last-Modified: 412",
		applies: func(q confReq) bool {
			v, ok := q.get("If-Unmodified-Since")
			return ok && !validDate(v)
		},
		ok: func(q confReq, z confAns, full []byte) bool { return z.status != http.StatusPreconditionFailed },
	},
	{
		name: "If-Unmodified-Since with If-Match", section: "13.1.4",
		rfc:   "a recipient MUST ignore If-Unmodified-Since if the request contains If-Match",
		nginx: "evaluates If-Unmodified-Since as well: 412 for a past date though If-Match passed",
		applies: func(q confReq) bool {
			return has(q, "If-Unmodified-Since") && has(q, "If-Match")
		},
		ok: func(q confReq, z confAns, full []byte) bool {
			im, _ := q.get("If-Match")
			pass := im == "*" || im == "{etag}"
			return pass == (z.status != http.StatusPreconditionFailed)
		},
	},
	{
		name: "invalid ranges-specifier", section: "14.1.1, 14.2",
		rfc:   "the grammar has no whitespace inside a range-spec, no sign, last-pos >= first-pos; a server MAY ignore or reject an invalid ranges-specifier (200 whole, or 416)",
		nginx: "honours spaces around '-' and after '=' (206), ignores \"bytes=\" (200), skips a range whose last is before its first",
		applies: func(q confReq) bool {
			v, ok := q.get("Range")
			valid, other := rangeSyntax(v)
			return ok && !valid && !other
		},
		ok: func(q confReq, z confAns, full []byte) bool {
			return isFull(q, z, full) || is416(q, z, full) || ifRangeFalse(q)
		},
	},
	{
		name: "empty representation", section: "14.1.1, 14.2",
		rfc:   "no range of a 0-byte representation is satisfiable (416 with bytes */0), and a server MAY ignore Range (200): zcopy always ignores it",
		nginx: "416 when no range starts at 0, 200 when one does (\"0-\", \"-1\")",
		applies: func(q confReq) bool {
			v, ok := q.get("Range")
			valid, _ := rangeSyntax(v)
			return ok && valid && q.size == 0
		},
		ok: func(q confReq, z confAns, full []byte) bool { return isFull(q, z, full) || is416(q, z, full) },
	},
}

// ifRangeFalse reports whether the request's If-Range cannot be true, so the
// Range is ignored whatever its syntax (13.1.5): an answer may then be 200.
func ifRangeFalse(q confReq) bool {
	v, ok := q.get("If-Range")
	return ok && v != "{etag}" && v != "{lm}"
}

// confGrid generates the requests.
func confGrid() []confReq {
	past := "Sat, 01 Jan 2000 00:00:00 GMT"
	future := "Fri, 01 Jan 2100 00:00:00 GMT"
	invalid := "yesterday at noon"
	type hv = [2]string
	conds := [][]hv{
		{{"If-None-Match", "{etag}"}},
		{{"If-None-Match", `"other"`}},
		{{"If-None-Match", "W/{etag}"}},
		{{"If-None-Match", "*"}},
		{{"If-None-Match", `"other", {etag}`}},
		{{"If-Match", "{etag}"}},
		{{"If-Match", `"other"`}},
		{{"If-Match", "W/{etag}"}},
		{{"If-Match", "*"}},
		{{"If-Modified-Since", past}},
		{{"If-Modified-Since", future}},
		{{"If-Modified-Since", invalid}},
		{{"If-Modified-Since", "{lm}"}},
		{{"If-Unmodified-Since", past}},
		{{"If-Unmodified-Since", future}},
		{{"If-Unmodified-Since", invalid}},
		{{"If-Unmodified-Since", "{lm}"}},
		{{"If-Range", "{etag}"}},
		{{"If-Range", "{lm}"}},
		{{"If-Range", `"other"`}},
		{{"If-Range", "W/{etag}"}},
		{{"If-Range", past}},
		{{"If-None-Match", "{etag}"}, {"If-Modified-Since", past}},
		{{"If-None-Match", `"other"`}, {"If-Modified-Since", "{lm}"}},
		{{"If-Match", "{etag}"}, {"If-Unmodified-Since", past}},
		{{"If-Match", `"other"`}, {"If-Unmodified-Since", future}},
		{{"If-Match", "{etag}"}, {"If-None-Match", "{etag}"}},
		{{"If-Match", `"other"`}, {"If-None-Match", "{etag}"}},
	}
	var reqs []confReq
	for _, size := range confSizes {
		ranges := confRanges(size)
		withConds := []string{"bytes=0-1", "bytes=-0", "bytes=-00", "bytes=-+0", "bytes=0-0,2-3",
			"bytes=abc", "bytes=" + strconv.FormatInt(size, 10) + "-", "bytes=-1"}
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			reqs = append(reqs, confReq{method: m, size: size})
			for _, r := range ranges {
				reqs = append(reqs, confReq{method: m, size: size, hdrs: [][2]string{{"Range", r}}})
			}
			for _, c := range conds {
				reqs = append(reqs, confReq{method: m, size: size, hdrs: c})
				for _, r := range withConds {
					reqs = append(reqs, confReq{method: m, size: size, hdrs: append(slices.Clone(c), hv{"Range", r})})
				}
			}
		}
	}
	return reqs
}

// confRanges generates the Range values for a file of size bytes.
func confRanges(size int64) []string {
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	seen := map[string]bool{}
	var out []string
	add := func(specs ...string) {
		for _, s := range specs {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	// Single ranges: first-last, open-ended, suffix, around the edges.
	edges := []int64{0, 1, size / 2, size - 1, size, size + 1}
	for _, f := range edges {
		if f < 0 {
			continue
		}
		add("bytes=" + itoa(f) + "-")
		for _, l := range []int64{f, f + 1, size - 1, size, size + 100} {
			if l >= f {
				add("bytes=" + itoa(f) + "-" + itoa(l))
			}
		}
	}
	for _, n := range []int64{1, 2, size / 2, size, size + 1, 1 << 40} {
		if n > 0 {
			add("bytes=-" + itoa(n))
		}
	}
	// Zero-length and unsatisfiable.
	add("bytes=-0", "bytes=-00", "bytes=-+0", "bytes=-000000", "bytes=0-0", "bytes=-0,-0",
		"bytes=-0,0-0", "bytes=0-0,-0", "bytes=-0, -00",
		"bytes="+itoa(size)+"-"+itoa(size+10), "bytes=1000000000-", "bytes=1000000000-2000000000")
	// Whitespace.
	add("bytes=0-1, 2-3", "bytes=0-1 ,2-3", "bytes= 0-1", "bytes=0 -1", "bytes=0- 1", "bytes =0-1",
		"bytes=\t0-1", "bytes=- 1", "bytes=0-1,\t-1")
	// Several ranges.
	add("bytes=0-1,2-3", "bytes=2-3,0-1", "bytes=0-5,3-8", "bytes=0-0,2-2,4-4", "bytes=4-4,2-2,0-0",
		"bytes=-1,0-0", "bytes=0-1,-0", "bytes=0-1,"+itoa(size)+"-", "bytes=0-1,,2-3", "bytes=,0-1",
		"bytes=0-,0-", "bytes=0-"+itoa(size/2)+","+itoa(size/2+1)+"-", "bytes=0-0,-1,1-1")
	// Syntactically invalid.
	add("bytes=abc", "bytes=0-1-2", "bytes=5-2", "bytes=1-0", "bytes=-", "bytes=", "bytes=+0-1",
		"bytes=0x1-2", "bytes=0-1;", "bytes=99999999999999999999-", "bytes=0-99999999999999999999",
		"bytes=-1-", "bytes=,", "bytes 0-1", "=0-1", "")
	// Other units, and the unit's case.
	add("items=0-1", "none", "lines=1-2", "Bytes=0-1", "BYTES=0-1,2-3", "bytesx=0-1")
	return out
}

// confFile makes the file of size bytes (deterministic) with the fixed
// modification time.
func confFile(tb testing.TB, dir string, size int64) []byte {
	tb.Helper()
	b := make([]byte, size)
	x := uint32(size*2654435761 + 1)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	p := filepath.Join(dir, "f"+strconv.FormatInt(size, 10))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chtimes(p, confModTime, confModTime); err != nil {
		tb.Fatal(err)
	}
	return b
}

// startNginx runs nginx (one process, no daemon) serving dir on a free
// port of 127.0.0.1, and returns its base URL. It is killed at the end of
// the test.
func startNginx(t *testing.T, dir string) string {
	t.Helper()
	bin := testbin.NeedTool(t, "nginx")
	work := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
error_log %[1]s/error.log;
pid %[1]s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    types { }
    default_type application/octet-stream;
    sendfile on;
    etag on;
    server {
        listen %[2]s;
        root %[3]s;
    }
}
`, work, addr, dir)
	cf := filepath.Join(work, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", filepath.Join(work, "error.log"), "-p", work, "-c", cf)
	p := testbin.Start(t, cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if !p.Running() || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(work, "error.log"))
			t.Fatalf("nginx did not start on %s: %v\n%s\n%s", addr, p.Err, p.Log(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr
}

// confClient sends requests as given: no compression, no redirects.
func confClient(tlsOK bool) *http.Client {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}
	if tlsOK {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// validators are a server's ETag and Last-Modified for each file.
type validators map[int64][2]string

func fetchValidators(t *testing.T, c *http.Client, base string) validators {
	t.Helper()
	v := validators{}
	for _, size := range confSizes {
		resp, err := c.Get(base + confReq{size: size}.path())
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		et, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if resp.StatusCode != http.StatusOK || et == "" || lm == "" {
			t.Fatalf("%s: GET f%d: %s, ETag %q, Last-Modified %q", base, size, resp.Status, et, lm)
		}
		v[size] = [2]string{et, lm}
	}
	return v
}

// do sends q to base with the server's validators filled in.
func (q confReq) do(c *http.Client, base string, v validators) confAns {
	req, err := http.NewRequest(q.method, base+q.path(), nil)
	if err != nil {
		return confAns{err: err.Error()}
	}
	for _, h := range q.hdrs {
		val := strings.ReplaceAll(h[1], "{etag}", v[q.size][0])
		val = strings.ReplaceAll(val, "{lm}", v[q.size][1])
		req.Header[h[0]] = append(req.Header[h[0]], val) // as given
	}
	resp, err := c.Do(req)
	if err != nil {
		return confAns{err: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return confAns{err: "body: " + err.Error()}
	}
	a := confAns{
		status: resp.StatusCode,
		cr:     resp.Header.Get("Content-Range"),
		cl:     resp.Header.Get("Content-Length"),
		etag:   resp.Header.Get("ETag") != "",
		lm:     resp.Header.Get("Last-Modified") != "",
		body:   body,
	}
	if q.method == http.MethodHead && len(body) > 0 {
		a.err = fmt.Sprintf("HEAD answered with %d body bytes", len(body))
	}
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "multipart/byteranges" {
		a.multipart, a.body = true, nil
		if q.method == http.MethodGet {
			if a.cl != "" && a.cl != strconv.Itoa(len(body)) {
				a.err = fmt.Sprintf("Content-Length %s but %d body bytes", a.cl, len(body))
			}
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					a.err = "multipart: " + err.Error()
					break
				}
				pb, err := io.ReadAll(p)
				if err != nil {
					a.err = "multipart part: " + err.Error()
					break
				}
				a.parts = append(a.parts, confPart{cr: p.Header.Get("Content-Range"), body: pb})
			}
		}
	}
	return a
}

// runGrid sends every request to base, 8 at a time, and returns the
// answers in order.
func runGrid(t *testing.T, c *http.Client, base string, v validators, reqs []confReq) []confAns {
	t.Helper()
	out := make([]confAns, len(reqs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = reqs[i].do(c, base, v)
			}
		}()
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func TestConformanceNginx(t *testing.T) {
	dir := t.TempDir()
	files := map[int64][]byte{}
	for _, size := range confSizes {
		files[size] = confFile(t, dir, size)
	}
	nginxURL := startNginx(t, dir)
	quiet := slog.New(slog.DiscardHandler)
	zs := startServer(t, httpserve.Config{Dir: dir, Logger: quiet, OnResponse: func(*httpserve.Response) {}})
	cert, _, _ := testbin.SelfSigned(t)
	zt := startServer(t, httpserve.Config{Dir: dir, Logger: quiet, OnResponse: func(*httpserve.Response) {},
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})

	plain, secure := confClient(false), confClient(true)
	defer plain.CloseIdleConnections()
	defer secure.CloseIdleConnections()
	nv := fetchValidators(t, plain, nginxURL)
	zv := fetchValidators(t, plain, zs.URL)
	tv := fetchValidators(t, secure, "https://"+zt.Addr)

	reqs := confGrid()
	start := time.Now()
	na := runGrid(t, plain, nginxURL, nv, reqs)
	za := runGrid(t, plain, zs.URL, zv, reqs)
	ta := runGrid(t, secure, "https://"+zt.Addr, tv, reqs)
	took := time.Since(start)

	var matched, departed int
	depCount := map[string]int{}
	var bad, tlsBad []string
	kinds := map[string]int{}
	for i, q := range reqs {
		if !reflect.DeepEqual(za[i], ta[i]) {
			tlsBad = append(tlsBad, fmt.Sprintf("%v\n    plain: %v\n    TLS:   %v", q, za[i], ta[i]))
		}
		if za[i].err != "" {
			bad = append(bad, fmt.Sprintf("%v\n    nginx: %v\n    zcopy: %v", q, na[i], za[i]))
			kinds["zcopy error"]++
			continue
		}
		d := na[i].diff(za[i])
		if d == "" {
			matched++
			continue
		}
		listed := false
		for _, dep := range departures {
			if dep.applies(q) && dep.ok(q, za[i], files[q.size]) {
				depCount[dep.section+" "+dep.name]++
				listed = true
				break
			}
		}
		if listed {
			departed++
			continue
		}
		kinds[d]++
		bad = append(bad, fmt.Sprintf("%v\n    nginx: %v\n    zcopy: %v", q, na[i], za[i]))
	}
	t.Logf("grid: %d requests (x3: nginx, zcopy, zcopy over TLS) in %v; %d matched nginx, %d deliberate departures, %d mismatches",
		len(reqs), took.Round(time.Millisecond), matched, departed, len(bad))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range depCount {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Logf("  departure, RFC 9110 %s: %d requests", k, depCount[k])
	}
	report := func(what string, lines []string) {
		const max = 13 // each entry is three lines
		var b strings.Builder
		for i, l := range lines {
			if i == max {
				fmt.Fprintf(&b, "... and %d more\n", len(lines)-max)
				break
			}
			b.WriteString(l + "\n")
		}
		t.Errorf("%s: %d\n%s", what, len(lines), b.String())
	}
	if len(bad) > 0 {
		t.Logf("mismatches by kind: %v", kinds)
		report("mismatches with nginx that are not listed departures", bad)
	}
	if len(tlsBad) > 0 {
		report("answers over TLS that differ from those in the clear", tlsBad)
	}
}
