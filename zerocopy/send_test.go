package zerocopy

import (
	"bytes"
	"context"
	"testing"
)

func TestSendMethods(t *testing.T) {
	path, data := makeFile(t, 8<<20+123)
	for _, m := range append([]Method{Auto}, SendMethods()...) {
		t.Run(m.String(), func(t *testing.T) {
			for _, r := range []struct {
				name   string
				off, n int64
			}{
				{"whole", 0, -1},
				{"middle", 4097, 3 << 20},
				{"tail", int64(len(data)) - 10, -1},
				{"empty", 100, 0},
			} {
				t.Run(r.name, func(t *testing.T) {
					c, s := tcpPair(t)
					got := readAllAsync(s)
					f := openFile(t, path)
					st, err := SendFile(context.Background(), c, f, r.off, r.n, &SendOptions{Method: m, ChunkSize: 1 << 20})
					if err != nil {
						t.Fatal(err)
					}
					c.Close()
					want := data[r.off:]
					if r.n >= 0 {
						want = want[:r.n]
					}
					if b := <-got; !bytes.Equal(b, want) {
						t.Fatalf("received %d bytes, want %d (equal=%v)", len(b), len(want), bytes.Equal(b, want))
					}
					if st.Bytes != int64(len(want)) {
						t.Errorf("Stats.Bytes = %d, want %d", st.Bytes, len(want))
					}
					wantMethod := m
					if m == Auto {
						wantMethod = Sendfile
					}
					if st.Method != wantMethod || st.Fallbacks != 0 {
						t.Errorf("ran %v with %d fallbacks (%s), want %v", st.Method, st.Fallbacks, st.FallbackReason, wantMethod)
					}
					if st.Lease {
						t.Errorf("a lease was held (%s) although none was asked for", st.LeaseNote)
					}
					t.Logf("%+v", st)
				})
			}
		})
	}
}
