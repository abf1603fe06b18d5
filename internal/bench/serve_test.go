package bench

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// hangGuard bounds every wait of these tests: far above what they need,
// it only turns a hang into a failure.
const hangGuard = time.Minute

// serveForTest runs Serve in-process on loopback with cfg (Addr and
// Command filled in) and returns its address and its log; Serve stops at
// the end of the test.
func serveForTest(t *testing.T, cfg ServeConfig) (addr string, log *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan net.Addr, 1)
	served := make(chan error, 1)
	log = &syncBuffer{}
	cfg.Addr, cfg.Command, cfg.Log = "127.0.0.1:0", workerCommand(), log
	cfg.OnListen = func(a net.Addr) { bound <- a }
	go func() { served <- Serve(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	select {
	case a := <-bound:
		return a.String(), log
	case err := <-served:
		t.Fatalf("Serve: %v", err)
	}
	return "", nil
}

// ctrlClient speaks the control protocol by hand.
type ctrlClient struct {
	t    *testing.T
	conn net.Conn
	enc  *json.Encoder
	dec  *json.Decoder
}

// dialCtrl connects to a Serve address from the loopback address from.
func dialCtrl(t *testing.T, from, addr string) *ctrlClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(hangGuard))
	return &ctrlClient{t: t, conn: c, enc: json.NewEncoder(c), dec: json.NewDecoder(c)}
}

// ask sends req and returns the reply.
func (c *ctrlClient) ask(req ctrlRequest) ctrlReply {
	c.t.Helper()
	if err := c.enc.Encode(req); err != nil {
		c.t.Fatal(err)
	}
	return c.reply()
}

// reply reads the next reply.
func (c *ctrlClient) reply() ctrlReply {
	c.t.Helper()
	var r ctrlReply
	if err := c.dec.Decode(&r); err != nil {
		c.t.Fatalf("reading a reply: %v", err)
	}
	return r
}

// hello greets the server.
func (c *ctrlClient) hello() {
	c.t.Helper()
	if r := c.ask(ctrlRequest{Op: "hello", Version: protocolVersion}); r.Host == nil {
		c.t.Fatalf("greeting: %+v", r)
	}
}

// trialSize is the size of the transfers the tests ask receivers for.
const trialSize = 100000

// recvRequest asks for a receiver of one transfer of trialSize bytes.
var recvRequest = ctrlRequest{Op: "recv", Method: "readwrite", Size: trialSize, Transfers: 1, TimeoutNs: int64(hangGuard)}

// feed sends the transfer a receiver at addr waits for and checks the
// server's figures.
func (c *ctrlClient) feed(addr string) {
	c.t.Helper()
	data, err := net.Dial("tcp", addr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer data.Close()
	if _, err := io.CopyN(data, zeros{}, trialSize); err != nil {
		c.t.Fatal(err)
	}
	data.Close()
	if r := c.reply(); r.Result == nil || r.Result.BytesEach != trialSize {
		c.t.Fatalf("result %+v", r)
	}
}

// trial runs one whole trial.
func (c *ctrlClient) trial() {
	c.t.Helper()
	r := c.ask(recvRequest)
	if r.Addr == "" {
		c.t.Fatalf("reply %+v", r)
	}
	c.feed(r.Addr)
}

// TestServeSilentClient guards issue 14: Serve answered clients one at a
// time, so a client that connected and said nothing blocked every other
// until it went away. A client that connects and stays silent must not
// stop a real one from being served.
func TestServeSilentClient(t *testing.T) {
	addr, _ := serveForTest(t, ServeConfig{})
	dialCtrl(t, "127.0.0.1", addr) // says nothing
	client := dialCtrl(t, "127.0.0.1", addr)
	client.hello()
	client.trial()
}

// TestServeDropsSilentClient: a client that sends no request within
// HelloTimeout is told so and dropped, and the log says so.
func TestServeDropsSilentClient(t *testing.T) {
	addr, log := serveForTest(t, ServeConfig{HelloTimeout: 50 * time.Millisecond})
	silent := dialCtrl(t, "127.0.0.1", addr)
	if r := silent.reply(); !strings.Contains(r.Error, "no request within 50ms") {
		t.Errorf("the silent client got %+v; want an error that says why it is dropped", r)
	}
	var r ctrlReply
	if err := silent.dec.Decode(&r); !errors.Is(err, io.EOF) {
		t.Errorf("after the error: %+v, %v; want the connection closed", r, err)
	}
	waitLog(t, log, silent.conn.LocalAddr().String()+": no request within 50ms; dropped")
}

// TestServeQueuesTrials: trials of two clients do not overlap (they would
// disturb each other's figures): a client that asks while another's trial
// runs waits for it, says the log, and is served after it.
func TestServeQueuesTrials(t *testing.T) {
	addr, log := serveForTest(t, ServeConfig{HelloTimeout: hangGuard})
	a, b := dialCtrl(t, "127.0.0.1", addr), dialCtrl(t, "127.0.0.1", addr)
	a.hello()
	b.hello()
	ra := a.ask(recvRequest)
	if ra.Addr == "" {
		t.Fatalf("reply %+v", ra)
	}
	if err := b.enc.Encode(recvRequest); err != nil {
		t.Fatal(err)
	}
	waitLog(t, log, b.conn.LocalAddr().String()+": waiting for another client's trial to end")
	a.feed(ra.Addr)
	rb := b.reply()
	if rb.Addr == "" {
		t.Fatalf("reply %+v", rb)
	}
	b.feed(rb.Addr)
}

// TestServeBusy: one client more than the server serves at once from a
// host is told it is busy; another host is still served.
func TestServeBusy(t *testing.T) {
	addr, _ := serveForTest(t, ServeConfig{HelloTimeout: hangGuard})
	for range maxClientsPerHost {
		c := dialCtrl(t, "127.0.0.1", addr)
		c.hello() // counted in once served
	}
	extra := dialCtrl(t, "127.0.0.1", addr)
	if r := extra.reply(); !strings.Contains(r.Error, "busy") || !strings.Contains(r.Error, "127.0.0.1") {
		t.Errorf("client %d from one host: %+v; want busy", maxClientsPerHost+1, r)
	}
	dialCtrl(t, "127.0.0.2", addr).hello()
}

// waitLog waits until log holds want (a hang guard bounds the wait).
func waitLog(t *testing.T, log *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); !strings.Contains(log.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %q:\n%s", want, log.String())
		}
	}
}

// TestServeOneOff: with OneOff, Serve returns once its first client that
// sent a request is done; a client dropped for its silence does not count.
func TestServeOneOff(t *testing.T) {
	bound := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- Serve(context.Background(), ServeConfig{
			Addr: "127.0.0.1:0", Command: workerCommand(), OneOff: true, HelloTimeout: 50 * time.Millisecond,
			OnListen: func(a net.Addr) { bound <- a },
		})
	}()
	addr := (<-bound).String()
	silent := dialCtrl(t, "127.0.0.1", addr)
	silent.reply() // dropped
	client := dialCtrl(t, "127.0.0.1", addr)
	client.hello()
	client.conn.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after its first client")
	}
}
