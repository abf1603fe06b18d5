package httpserve_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcopy/zcopy/httpserve"
)

// TestResponseStatsKeepRawSyscalls downloads a page-cached 16 MiB file,
// which the engine sends by sendfile, many calls of it raw (see the
// zerocopy package documentation): the response's summed engine figures
// must keep them. Issue 13: the sum dropped Stats.RawSyscalls, so the
// access log and metrics always said 0.
func TestResponseStatsKeepRawSyscalls(t *testing.T) {
	dir := t.TempDir()
	path := makeFile(t, dir, "big.bin", 16<<20)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var cs unix.Cachestat_t
	cerr := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &cs, 0)
	f.Close()
	if cerr == unix.ENOSYS {
		t.Skip("this kernel has no cachestat(2): no sendfile is raw")
	}
	ts := startServer(t, httpserve.Config{Dir: dir})
	resp, err := http.Get(ts.URL + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, readFile(t, path)) {
		t.Fatalf("body: %d bytes, %v", len(body), err)
	}
	r := ts.nthResponse(t, 1)
	t.Logf("engine: %+v", r.Send)
	if r.Send.RawSyscalls == 0 || r.Send.RawSyscalls > r.Send.Syscalls {
		t.Errorf("the response's figures say %d raw of %d system calls; want some raw, and no more than all", r.Send.RawSyscalls, r.Send.Syscalls)
	}
}
