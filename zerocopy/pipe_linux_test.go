package zerocopy

import (
	"context"
	"io"
	"os"
	"testing"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestFailedSpliceClosesPipe fails 40 splice sends half way, with data in
// the splice pipe (the peer resets the connection before reading): each
// must close its pipe at once, not leave it for the garbage collector.
// Issue 13: 11 -> 91 descriptors after 40 failed sends.
func TestFailedSpliceClosesPipe(t *testing.T) {
	path, _ := makeFile(t, 8<<20)
	f := openFile(t, path)
	// One pipe may stay in the pool between sends: make it now.
	c, s := tcpPair(t)
	go io.Copy(io.Discard, s)
	if _, err := SendFile(context.Background(), c, f, 0, 1<<20, &SendOptions{Method: Splice}); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	for i := range 40 {
		c, s := tcpPair(t)
		s.SetLinger(0)
		s.Close() // a reset: the send fails with bytes in the pipe
		_, err := SendFile(context.Background(), c, f, 0, -1, &SendOptions{Method: Splice})
		if err == nil {
			t.Fatalf("send %d to a reset peer succeeded", i)
		}
		c.Close()
	}
	if after := openFDs(t); after > before+2 {
		t.Errorf("%d descriptors open before 40 failed splice sends, %d after: their pipes were left for the garbage collector", before, after)
	}
}
