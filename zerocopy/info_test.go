package zerocopy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSendInfo: with SendOptions.Info, SendFile takes the file's size from
// the caller's stat instead of its own: a whole-file send stops where the
// caller saw the end, though the file has grown since.
func TestSendInfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	w, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	w.WriteString("grown after the stat")
	w.Close()
	for _, tc := range []struct {
		name string
		info bool
		want string
	}{
		{"caller-stat", true, "0123456789"},
		{"own-fstat", false, "0123456789grown after the stat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			o := SendOptions{}
			if tc.info {
				o.Info = fi
			}
			st, err := SendFile(context.Background(), &buf, f, 0, -1, &o)
			if err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want || st.Bytes != int64(len(tc.want)) {
				t.Errorf("sent %q (%d bytes); want %q", buf.String(), st.Bytes, tc.want)
			}
		})
	}
}
