package zerocopy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestReceiveMethods(t *testing.T) {
	_, data := makeFile(t, 5<<20+77)
	for _, m := range append([]Method{Auto}, ReceiveMethods()...) {
		for _, tc := range []struct {
			name    string
			off, n  int64 // n < 0: until EOF
			wantErr error
		}{
			{"to-eof", 0, -1, nil},
			{"at-offset", 1000, -1, nil},
			{"exact-n", 0, 3<<20 + 1, nil},
			{"short-stream", 0, int64(len(data)) + 1, io.ErrUnexpectedEOF},
		} {
			t.Run(m.String()+"/"+tc.name, func(t *testing.T) {
				c, s := tcpPair(t)
				go func() {
					c.Write(data)
					c.Close()
				}()
				path := filepath.Join(t.TempDir(), "out")
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				st, err := ReceiveFile(context.Background(), f, s, tc.off, tc.n, &ReceiveOptions{Method: m})
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				want := data
				if tc.n >= 0 && tc.n < int64(len(data)) {
					want = data[:tc.n]
				}
				got, _ := os.ReadFile(path)
				if !bytes.Equal(got[tc.off:], want) || int64(len(got)) != tc.off+int64(len(want)) {
					t.Fatalf("file has %d bytes, want %d at offset %d", len(got), len(want), tc.off)
				}
				if st.Bytes != int64(len(want)) {
					t.Errorf("Stats.Bytes = %d, want %d", st.Bytes, len(want))
				}
				wantMethod := m
				if m == Auto {
					wantMethod = Splice
				}
				if st.Method != wantMethod || st.Fallbacks != 0 {
					t.Errorf("ran %v with %d fallbacks (%s), want %v", st.Method, st.Fallbacks, st.FallbackReason, wantMethod)
				}
			})
		}
	}
}

// TestReceiveSequential writes at the file's own position (off < 0), as for
// a pipe or stdout, after data the file already holds.
func TestReceiveSequential(t *testing.T) {
	_, data := makeFile(t, 2<<20)
	for _, m := range ReceiveMethods() {
		t.Run(m.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			go func() { c.Write(data); c.Close() }()
			path := filepath.Join(t.TempDir(), "out")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.WriteString("head")
			if _, err := ReceiveFile(context.Background(), f, s, -1, -1, &ReceiveOptions{Method: m}); err != nil {
				t.Fatal(err)
			}
			f.WriteString("tail")
			got, _ := os.ReadFile(path)
			want := append(append([]byte("head"), data...), "tail"...)
			if !bytes.Equal(got, want) {
				t.Fatalf("file has %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

// TestReceiveFallback covers outputs that refuse splice. A file opened with
// O_APPEND refuses it with EINVAL only after the socket's bytes are in the
// pipe: under Auto those bytes must still reach the file, by copy, and
// ReadWrite must carry on; asked for Splice explicitly, it is an error.
func TestReceiveFallback(t *testing.T) {
	if !haveSplice {
		t.Skip("no splice on this platform")
	}
	_, data := makeFile(t, 3<<20)
	for _, tc := range []struct {
		method  Method
		wantErr bool
	}{
		{Auto, false},
		{Splice, true},
	} {
		t.Run(tc.method.String(), func(t *testing.T) {
			c, s := tcpPair(t)
			go func() { c.Write(data); c.Close() }()
			path := filepath.Join(t.TempDir(), "out")
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := ReceiveFile(context.Background(), f, s, -1, -1, &ReceiveOptions{Method: tc.method})
			if tc.wantErr {
				if err == nil {
					t.Fatal("splice into an O_APPEND file succeeded")
				}
				t.Logf("error as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Method != ReadWrite || st.Fallbacks != 1 || st.FallbackReason == "" {
				t.Errorf("stats %+v: want ReadWrite after one fallback", st)
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, data) {
				t.Fatalf("file has %d bytes, want %d", len(got), len(data))
			}
		})
	}
}
