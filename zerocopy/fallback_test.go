package zerocopy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// hideFD hides the peer's file descriptor, as a TLS connection or a
// wrapping writer would.
type hideFD struct{ io.Writer }

func TestSendFallback(t *testing.T) {
	path, data := makeFile(t, 1<<20)
	for _, tc := range []struct {
		name         string
		src          string // file to send; "" means the random file
		method       Method
		hide         bool // the peer has no descriptor
		wantMethod   Method
		wantFallback int
		wantErr      bool
	}{
		// /proc/self/status refuses sendfile, splice and mmap (EINVAL,
		// ENODEV) on Linux 6.18 and reports size 0.
		{"proc-auto", "/proc/self/status", Auto, false, ReadWrite, 1, false},
		{"proc-sendfile", "/proc/self/status", Sendfile, false, Sendfile, 0, true},
		{"proc-splice", "/proc/self/status", Splice, false, Splice, 0, true},
		{"proc-mmap", "/proc/self/status", MMap, false, MMap, 0, true},
		{"nofd-auto", "", Auto, true, ReadWrite, 0, false},
		{"nofd-sendfile", "", Sendfile, true, Sendfile, 0, true},
		{"nofd-mmap", "", MMap, true, MMap, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.src != "" && !haveSendfile {
				t.Skip("no sendfile here")
			}
			src := path
			if tc.src != "" {
				src = tc.src
			}
			f := openFile(t, src)
			var buf bytes.Buffer
			var dst io.Writer
			var got <-chan []byte
			if tc.hide {
				dst = hideFD{&buf}
			} else {
				c, s := tcpPair(t)
				got = readAllAsync(s)
				defer c.Close()
				dst = c
			}
			st, err := SendFile(context.Background(), dst, f, 0, -1, &SendOptions{Method: tc.method})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil {
				t.Logf("error as expected: %v", err)
			}
			if st.Method != tc.wantMethod || st.Fallbacks != tc.wantFallback {
				t.Errorf("ran %v after %d fallbacks (%s); want %v after %d", st.Method, st.Fallbacks, st.FallbackReason, tc.wantMethod, tc.wantFallback)
			}
			if tc.wantErr {
				return
			}
			var b []byte
			if tc.hide {
				b = buf.Bytes()
			} else {
				dst.(io.Closer).Close()
				b = <-got
			}
			switch {
			case tc.src == "/proc/self/status":
				if !strings.HasPrefix(string(b), "Name:") || int64(len(b)) != st.Bytes {
					t.Errorf("got %q (%d bytes, stats say %d)", b, len(b), st.Bytes)
				}
			case !bytes.Equal(b, data):
				t.Errorf("got %d bytes, want %d", len(b), len(data))
			}
		})
	}
}

func TestUnknownMethod(t *testing.T) {
	if _, err := ParseMethod("zerocopy"); err == nil {
		t.Error("ParseMethod accepted an unknown name")
	}
	for _, m := range []Method{Auto, ReadWrite, MMap, Sendfile, Splice} {
		got, err := ParseMethod(strings.ToUpper(m.String()))
		if err != nil || got != m {
			t.Errorf("ParseMethod(%q) = %v, %v", m, got, err)
		}
	}
	f := openFile(t, "/proc/self/status")
	_, err := SendFile(context.Background(), io.Discard, f, 0, -1, &SendOptions{Method: Method(99)})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Method(99): err = %v, want ErrUnsupported", err)
	}
	out, _ := os.CreateTemp(t.TempDir(), "x")
	defer out.Close()
	_, err = ReceiveFile(context.Background(), out, strings.NewReader("x"), 0, -1, &ReceiveOptions{Method: Sendfile})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("receive by sendfile: err = %v, want ErrUnsupported", err)
	}
}

func TestBadRange(t *testing.T) {
	path, _ := makeFile(t, 1000)
	f := openFile(t, path)
	for _, tc := range []struct {
		name   string
		off, n int64
	}{
		{"negative-offset", -1, 10},
		{"offset-past-end", 1001, -1},
		{"range-past-end", 990, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := SendFile(context.Background(), io.Discard, f, tc.off, tc.n, nil)
			if err == nil || st.Bytes != 0 {
				t.Fatalf("SendFile(%d, %d) = %d bytes, %v; want an error and nothing sent", tc.off, tc.n, st.Bytes, err)
			}
			// A caller's bad range is its own error, not a truncation.
			if !errors.Is(err, ErrRange) || errors.Is(err, ErrTruncated) {
				t.Errorf("err = %v, want ErrRange and not ErrTruncated", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Op != "send" || e.Path != f.Name() {
				t.Errorf("err = %#v, want an *Error naming the operation and the file", err)
			}
			t.Log(err)
		})
	}
}
