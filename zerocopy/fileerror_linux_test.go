package zerocopy

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
)

// unreadable is a file that opens but fails when read, and the length to
// ask SendFile for.
type unreadable struct {
	name, path string
	n          int64
}

// unreadableSources returns a directory opened as a file (EISDIR), and
// where there is one a sysfs attribute whose read fails (the loopback
// device has no link speed: EINVAL).
func unreadableSources(t *testing.T) []unreadable {
	t.Helper()
	srcs := []unreadable{{"directory", t.TempDir(), 4096}}
	const speed = "/sys/class/net/lo/speed"
	if fi, err := os.Stat(speed); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		if _, err := os.ReadFile(speed); err != nil {
			srcs = append(srcs, unreadable{"sysfs", speed, -1})
		}
	}
	return srcs
}

// TestFileErrorNamesTheFile: SendFile's error holds a *FileError when the
// file it reads fails, by every method, and none when the peer failed, so
// a caller can tell which of the two to give up on.
func TestFileErrorNamesTheFile(t *testing.T) {
	methods := append([]Method{Auto}, SendMethods()...)
	for _, src := range unreadableSources(t) {
		for _, m := range methods {
			t.Run(src.name+"/"+m.String(), func(t *testing.T) {
				f := openFile(t, src.path)
				c, s := tcpPair(t)
				got := readAllAsync(s)
				st, err := SendFile(context.Background(), c, f, 0, src.n, &SendOptions{Method: m})
				c.Close()
				<-got
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("sending %s by %v: err = %v (%T), want a *FileError", src.path, m, err, errors.Unwrap(err))
				}
				if st.Bytes != 0 {
					t.Errorf("%d bytes sent of a file that cannot be read", st.Bytes)
				}
			})
		}
	}
	path, _ := makeFile(t, 8<<20)
	for _, m := range methods {
		t.Run("peer gone/"+m.String(), func(t *testing.T) {
			f := openFile(t, path)
			c, s := tcpPair(t)
			s.SetLinger(0)
			s.Close() // a reset: the sender's writes fail
			_, err := SendFile(context.Background(), c, f, 0, -1, &SendOptions{Method: m})
			var fe *FileError
			switch {
			case err == nil:
				t.Fatal("sending to a closed peer succeeded")
			case errors.As(err, &fe):
				t.Fatalf("the peer failed, but the error holds a *FileError: %v", err)
			}
		})
	}
	// The type itself: transparent text, the cause beneath.
	fe := &FileError{Err: io.ErrUnexpectedEOF}
	if fe.Error() != io.ErrUnexpectedEOF.Error() || !errors.Is(fe, io.ErrUnexpectedEOF) {
		t.Errorf("FileError %q does not show or wrap its cause", fe.Error())
	}
}
