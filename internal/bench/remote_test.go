package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/zerocopy"
)

// startServer runs `zcopy bench --serve addr` (under prefix, e.g. ip netns
// exec) and returns the address it listens on and a function that stops
// it and returns its stderr.
func startServer(t *testing.T, prefix []string, addr string) (string, func() string) {
	t.Helper()
	argv := append(append([]string(nil), prefix...), zcopyBin, "bench", "--serve", addr)
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	bound := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			fmt.Fprintln(&log, sc.Text())
			mu.Unlock()
			if a, ok := strings.CutPrefix(sc.Text(), "zcopy bench: serving on "); ok {
				bound <- a
			}
		}
	}()
	stopped := false
	stop := func() string {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			<-done
			if err := cmd.Wait(); err != nil {
				t.Errorf("the server exited with %v", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	t.Cleanup(func() { stop() })
	select {
	case a := <-bound:
		return a, stop
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the server did not say where it listens; stderr:\n%s", stop())
	}
	return "", nil
}

// checkRemote runs the client against a server at addr (under prefix) and
// checks that the results have both ends' figures.
func checkRemote(t *testing.T, prefix []string, addr string, size int64) {
	t.Helper()
	argv := append(append([]string(nil), prefix...), zcopyBin, "bench", "--to", addr,
		"--size", fmt.Sprint(size), "--reps", "2", "--warmup", "0", "--json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%q: %v\n%s", argv, err, stderrOf(err))
	}
	var res []Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(res) != len(DefaultConfig().Methods) {
		t.Errorf("%d results, want one per method", len(res))
	}
	sawTLS := false
	for _, r := range res {
		t.Logf("%-9s %.2f GB/s, sender %.3f, receiver %.3f CPU s/GiB, %.0f and %.0f syscalls/GiB", r.Method, r.GBps, r.SenderCPU, r.ReceiverCPU, r.Syscalls, r.ReceiverSyscalls)
		want := r.Method
		if r.TLS {
			// The tls row runs on the server too: readwrite inside TLS.
			sawTLS, want = true, "readwrite"
			checkHandshake(t, r)
		}
		if r.Bytes != size || r.MethodUsed != want {
			t.Errorf("%s: %d bytes by %s", r.Method, r.Bytes, r.MethodUsed)
		}
		if !(r.SenderCPU > 0) || !(r.ReceiverCPU > 0) || !(r.Syscalls > 0) || !(r.ReceiverSyscalls > 0) || !(r.GBps > 0) {
			t.Errorf("%s: missing figures: %+v", r.Method, r)
		}
	}
	if !sawTLS {
		t.Error("no tls row")
	}
	// The table names both hosts.
	argv = argv[:len(argv)-1]
	out, err = exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatalf("%q: %v\n%s", argv, err, stderrOf(err))
	}
	if !strings.Contains(string(out), "receiver: ") || !strings.Contains(string(out), "at "+addr) {
		t.Errorf("the table does not describe the receiving host at %s:\n%s", addr, out)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestRemoteLoopback runs --serve and --to as two processes on loopback.
func TestRemoteLoopback(t *testing.T) {
	addr, stop := startServer(t, nil, "127.0.0.1:0")
	checkRemote(t, nil, addr, 2<<20)
	if log := stop(); !strings.Contains(log, "trials") {
		t.Errorf("the server did not log its client:\n%s", log)
	}
}

// TestRemoteNetns is acceptance 4: --serve and --to across two network
// namespaces joined by a veth pair, with benchmarking-range addresses
// (RFC 2544). It needs root and iproute2.
func TestRemoteNetns(t *testing.T) {
	need(t, os.Geteuid() == 0, "root (to make network namespaces)")
	_, err := exec.LookPath("ip")
	need(t, err == nil, "the ip tool (iproute2)")

	pid := os.Getpid()
	srv, cli := fmt.Sprintf("zcopy-srv-%d", pid), fmt.Sprintf("zcopy-cli-%d", pid)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		// Deleting a namespace deletes the veth end in it, and so the pair.
		for _, ns := range []string{srv, cli} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	ip("netns", "add", srv)
	ip("netns", "add", cli)
	vs, vc := fmt.Sprintf("vzs%d", pid), fmt.Sprintf("vzc%d", pid)
	ip("link", "add", vs, "netns", srv, "type", "veth", "peer", "name", vc, "netns", cli)
	ip("-n", srv, "addr", "add", "198.18.0.1/24", "dev", vs)
	ip("-n", cli, "addr", "add", "198.18.0.2/24", "dev", vc)
	for _, l := range [][2]string{{srv, vs}, {cli, vc}, {srv, "lo"}, {cli, "lo"}} {
		ip("-n", l[0], "link", "set", l[1], "up")
	}

	addr, stop := startServer(t, []string{"ip", "netns", "exec", srv}, "198.18.0.1:0")
	if !strings.HasPrefix(addr, "198.18.0.1:") {
		t.Fatalf("the server listens on %s", addr)
	}
	checkRemote(t, []string{"ip", "netns", "exec", cli}, addr, 8<<20)
	if log := stop(); !strings.Contains(log, "client 198.18.0.2:") {
		t.Errorf("the server did not log its client in the other namespace:\n%s", log)
	}
}

// TestServeProtocol speaks the control protocol to an in-process server by
// hand: bad requests get errors, a good one gets a receiver that any TCP
// sender can feed, and the receiver's figures come back.
func TestServeProtocol(t *testing.T) {
	addr, _ := serveForTest(t, ServeConfig{})
	t.Run("version", func(t *testing.T) {
		c := dialCtrl(t, "127.0.0.1", addr)
		if r := c.ask(ctrlRequest{Op: "hello", Version: 99}); !strings.Contains(r.Error, "protocol version") {
			t.Errorf("reply %+v", r)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		c := dialCtrl(t, "127.0.0.1", addr)
		if r := c.ask(ctrlRequest{Op: "hello", Version: protocolVersion}); r.Host == nil || r.Host.Cores < 1 || !r.TLS {
			t.Fatalf("greeting %+v (want a host and tls)", r)
		}
		if zerocopy.Supported(zerocopy.Splice, false) {
			if r := c.ask(ctrlRequest{Op: "recv", Method: "splice", Size: 1, Transfers: 1, TLS: true}); !strings.Contains(r.Error, "TLS receiver reads by readwrite") {
				t.Errorf("a TLS receiver by splice: reply %+v", r)
			}
		}
		for _, tc := range []struct {
			req  ctrlRequest
			want string
		}{
			{ctrlRequest{Op: "recv", Method: "mmap", Size: 1, Transfers: 1}, "receive method mmap"},
			{ctrlRequest{Op: "recv", Method: "readwrite", Size: 0, Transfers: 1}, "at least one byte"},
			{ctrlRequest{Op: "recv", Method: "readwrite", Size: 1, Transfers: maxTransfers + 1}, "transfers"},
			{ctrlRequest{Op: "recv", Method: "nope", Size: 1, Transfers: 1}, "unknown method"},
			{ctrlRequest{Op: "reboot"}, "unknown request"},
		} {
			if r := c.ask(tc.req); !strings.Contains(r.Error, tc.want) {
				t.Errorf("%+v: reply %+v, want an error with %q", tc.req, r, tc.want)
			}
		}
	})
	t.Run("receive", func(t *testing.T) {
		c := dialCtrl(t, "127.0.0.1", addr)
		c.hello()
		const size, transfers = 100000, 3
		r := c.ask(ctrlRequest{Op: "recv", Method: "readwrite", Size: size, Transfers: transfers, TimeoutNs: int64(time.Minute)})
		if r.Addr == "" {
			t.Fatalf("reply %+v", r)
		}
		data, err := net.Dial("tcp", r.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(data, zeros{}, size*transfers); err != nil {
			t.Fatal(err)
		}
		data.Close()
		if res := c.reply(); res.Result == nil || res.Result.BytesEach != size || res.Result.Transfers != transfers || !res.Result.Usage.Known {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("receive over TLS", func(t *testing.T) {
		c := dialCtrl(t, "127.0.0.1", addr)
		c.hello()
		const size, transfers = 100000, 3
		r := c.ask(ctrlRequest{Op: "recv", Method: "readwrite", Size: size, Transfers: transfers, TimeoutNs: int64(time.Minute), TLS: true})
		if r.Addr == "" {
			t.Fatalf("reply %+v", r)
		}
		raw, err := net.Dial("tcp", r.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		data, _, err := secure.Handshake(context.Background(), raw, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(data, zeros{}, size*transfers); err != nil {
			t.Fatal(err)
		}
		data.Close()
		if res := c.reply(); res.Result == nil || res.Result.BytesEach != size || res.Result.Transfers != transfers || !res.Result.TLS || res.Result.HandshakeNanos <= 0 {
			t.Fatalf("result %+v", res)
		}
	})
	t.Run("client gone", func(t *testing.T) {
		// A client that asks for a receiver and leaves must not wedge the
		// server: the next client's trial runs.
		c := dialCtrl(t, "127.0.0.1", addr)
		c.hello()
		if r := c.ask(recvRequest); r.Addr == "" {
			t.Fatalf("reply %+v", r)
		}
		c.conn.Close()
		next := dialCtrl(t, "127.0.0.1", addr)
		next.hello()
		next.trial()
	})
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestRemoteOldServer runs a client against a server that predates the
// tls row: a proxy of the control connection takes "tls" out of the
// greeting, as an older server would leave it out. The client leaves the
// row out and says so, and fails only if it was the only row asked for.
func TestRemoteOldServer(t *testing.T) {
	addr, _ := serveForTest(t, ServeConfig{})
	old := oldServerProxy(t, addr)
	cfg := testConfig(t)
	cfg.To = old
	cfg.Sizes = []int64{1 << 20}
	cfg.Methods = []Row{{Method: zerocopy.ReadWrite}, TLSRow}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Method != "readwrite" {
		t.Errorf("results %+v, want readwrite's alone", rep.Results)
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "tls row was left out") {
		t.Errorf("notes %q", rep.Notes)
	}
	var b strings.Builder
	if err := WriteTable(&b, rep, false); err != nil || !strings.Contains(b.String(), "tls row was left out") {
		t.Errorf("the table does not say the row was left out (%v):\n%s", err, b.String())
	}
	cfg.Methods = []Row{TLSRow}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "cannot run the tls row") {
		t.Errorf("Run of tls alone against an old server = %v", err)
	}
}

// oldServerProxy relays control connections to the server at addr,
// dropping "tls" from every reply, and returns its address.
func oldServerProxy(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				return
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				defer c.Close()
				dec, enc := json.NewDecoder(s), json.NewEncoder(c)
				for {
					var r map[string]any
					if dec.Decode(&r) != nil {
						return
					}
					delete(r, "tls")
					if enc.Encode(r) != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
