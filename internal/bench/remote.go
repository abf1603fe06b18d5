package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/zcopy/zcopy/internal/oncelistener"
	"github.com/zcopy/zcopy/zerocopy"
)

// The control protocol, one JSON object a line over one TCP connection:
//
//	client: {"op":"hello","version":1}          server: {"host":{...}}
//	client: {"op":"recv", method, size, ...}    server: {"addr":"IP:PORT"}
//	        (the client's sender sends)         server: {"result":{...}}
//
// Any reply may instead be {"error":"..."}. The client closes the
// connection when it is done; the server then kills any receiver still
// running for it.
//
// A server that can run the TLS row's receivers says "tls":true in its
// greeting, and a request for one has "tls":true; a client leaves the row
// out for a server that does not say so (an older one, which would ignore
// the field and run a plain receiver), so the version stays 1.
const protocolVersion = 1

type ctrlRequest struct {
	Op        string `json:"op"`
	Version   int    `json:"version,omitempty"`
	Method    string `json:"method,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Transfers int    `json:"transfers,omitempty"`
	TimeoutNs int64  `json:"timeout_ns,omitempty"`
	TLS       bool   `json:"tls,omitempty"`
}

type ctrlReply struct {
	Host   *HostInfo    `json:"host,omitempty"`
	TLS    bool         `json:"tls,omitempty"` // in the greeting: TLS receivers can be had
	Addr   string       `json:"addr,omitempty"`
	Result *sideFigures `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// ServeConfig configures Serve.
type ServeConfig struct {
	// Addr is the address to listen on (host:port; a bare host gets
	// DefaultPort).
	Addr string
	// Command and Env run receiver workers, as in Config.
	Command []string
	Env     []string
	// OneOff makes Serve return after its first client (one that sent a
	// request: a client dropped for its silence does not count).
	OneOff bool
	// HelloTimeout bounds the wait for a client's first request (10 s if
	// zero).
	HelloTimeout time.Duration
	// Log, if set, gets a line when Serve listens and one per client.
	Log io.Writer
	// OnListen, if set, is called with the bound address (useful with
	// port 0).
	OnListen func(net.Addr)
}

// What Serve holds for its clients: the clients connected at once, in all
// and from one host.
const (
	maxClients        = 64
	maxClientsPerHost = 8
)

// Serve answers benchmark clients (Config.To) until ctx is done, running a
// receiver worker for each of their trials. Data connections arrive on the
// address the client's control connection reached, on a port chosen per
// trial.
//
// Clients are served at once, up to 64 (8 from one host; one more is told
// that the server is busy), and one that sends no request within
// HelloTimeout is dropped: a client that connects and says nothing holds
// up no other. Trials, though, run one at a time: two receivers at once
// would share this host's CPUs, memory bandwidth and network, and each
// would disturb the other's figures. A client asking for a trial while
// another's runs waits for it (the log says so); only a running trial
// holds that queue, and its receiver's timeout bounds it.
func Serve(ctx context.Context, cfg ServeConfig) error {
	if len(cfg.Command) == 0 {
		return errors.New("no worker command")
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", withPort(cfg.Addr))
	if err != nil {
		return err
	}
	ln := oncelistener.Wrap(l) // closed by the time Serve returns
	defer ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s := &server{cfg: &cfg, trial: make(chan struct{}, 1), hosts: map[string]int{}}
	s.logf("zcopy bench: serving on %s\n", ln.Addr())
	if cfg.OnListen != nil {
		cfg.OnListen(ln.Addr())
	}
	// On return: the clients are cut off, then waited for.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var (
		once   sync.Once
		served = make(chan struct{}) // closed when OneOff's client is done
		first  error                 // its error
	)
	for {
		conn, err := ln.Accept()
		if err != nil {
			select {
			case <-served:
				return first
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		host := hostOf(conn.RemoteAddr())
		if busy := s.admit(host); busy != "" {
			s.logf("zcopy bench: client %s: refused: %s\n", conn.RemoteAddr(), busy)
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			json.NewEncoder(conn).Encode(ctrlReply{Error: busy})
			conn.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.leave(host)
			spoke, err := s.serveClient(ctx, conn)
			if cfg.OneOff && spoke {
				once.Do(func() {
					first = err
					close(served)
					cancel()
				})
			}
		}()
	}
}

// server is what Serve's clients share.
type server struct {
	cfg   *ServeConfig
	trial chan struct{} // holds a token while a trial runs

	mu    sync.Mutex
	n     int            // clients connected
	hosts map[string]int // of which from each host
}

// admit counts in a client from host, unless the server holds as many as
// it serves at once: then it returns why not.
func (s *server) admit(host string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.n >= maxClients:
		return fmt.Sprintf("busy: %d clients are connected, the most it serves at once; try again later", maxClients)
	case s.hosts[host] >= maxClientsPerHost:
		return fmt.Sprintf("busy: %d clients from %s are connected, the most it serves from one host; try again later", maxClientsPerHost, host)
	}
	s.n++
	s.hosts[host]++
	return ""
}

// leave counts out a client from host.
func (s *server) leave(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.hosts[host]--; s.hosts[host] == 0 {
		delete(s.hosts, host)
	}
}

// logf writes a line to the log; clients log from their own goroutines.
func (s *server) logf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	logf(s.cfg.Log, format, a...)
}

func (cfg *ServeConfig) helloTimeout() time.Duration {
	if cfg.HelloTimeout > 0 {
		return cfg.HelloTimeout
	}
	return 10 * time.Second
}

// hostOf is the host of a (TCP) address.
func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	return a.String()
}

// serveClient answers one client until it closes the connection, and logs
// how many trials it ran. It reports whether the client sent a request (one
// that sends none within HelloTimeout is dropped).
func (s *server) serveClient(ctx context.Context, conn net.Conn) (spoke bool, err error) {
	trials := 0
	var readErr error // why reading stopped, once reqs is closed
	defer func() {
		switch {
		case !spoke && errors.Is(readErr, os.ErrDeadlineExceeded):
			s.logf("zcopy bench: client %s: no request within %v; dropped\n", conn.RemoteAddr(), s.cfg.helloTimeout())
		case !spoke:
			s.logf("zcopy bench: client %s: gone without a request\n", conn.RemoteAddr())
		case err != nil:
			s.logf("zcopy bench: client %s: %d trials, then %v\n", conn.RemoteAddr(), trials, err)
		default:
			s.logf("zcopy bench: client %s: %d trials\n", conn.RemoteAddr(), trials)
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.Close()
	context.AfterFunc(ctx, func() { conn.Close() })

	enc := json.NewEncoder(conn)
	reqs := make(chan ctrlRequest)
	conn.SetReadDeadline(time.Now().Add(s.cfg.helloTimeout()))
	go func() {
		// Reading goes on while a receiver runs, so that a client that goes
		// away cancels it at once.
		defer cancel()
		defer close(reqs)
		dec := json.NewDecoder(conn)
		for first := true; ; first = false {
			var r ctrlRequest
			if err := dec.Decode(&r); err != nil {
				readErr = err
				if first && errors.Is(err, os.ErrDeadlineExceeded) {
					// Nothing else writes before the first request.
					conn.SetWriteDeadline(time.Now().Add(time.Second))
					enc.Encode(ctrlReply{Error: fmt.Sprintf("no request within %v", s.cfg.helloTimeout())})
				}
				return
			}
			if first {
				conn.SetReadDeadline(time.Time{})
			}
			select {
			case reqs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	ip := conn.LocalAddr().(*net.TCPAddr).IP
	for req := range reqs {
		spoke = true
		switch req.Op {
		case "hello":
			if req.Version != protocolVersion {
				enc.Encode(ctrlReply{Error: fmt.Sprintf("protocol version %d, this server speaks %d", req.Version, protocolVersion)})
				return spoke, fmt.Errorf("protocol version %d", req.Version)
			}
			h := LocalHost()
			if err := enc.Encode(ctrlReply{Host: &h, TLS: true}); err != nil {
				return spoke, err
			}
		case "recv":
			spec, err := recvSpec(req, ip)
			if err != nil {
				if err := enc.Encode(ctrlReply{Error: err.Error()}); err != nil {
					return spoke, err
				}
				continue
			}
			if !s.queue(ctx, conn.RemoteAddr()) {
				return spoke, context.Cause(ctx)
			}
			trials++
			err = serveTrial(ctx, enc, s.cfg, spec)
			<-s.trial
			if err != nil {
				return spoke, err
			}
		default:
			enc.Encode(ctrlReply{Error: fmt.Sprintf("unknown request %q", req.Op)})
			return spoke, fmt.Errorf("unknown request %q", req.Op)
		}
	}
	return spoke, nil
}

// queue waits until no other client's trial runs and takes the turn; the
// caller gives it back (<-s.trial) when its trial is done. It reports false
// if ctx ended first (the client went away, or the server stops).
func (s *server) queue(ctx context.Context, client net.Addr) bool {
	select {
	case s.trial <- struct{}{}:
		return true
	default:
	}
	s.logf("zcopy bench: client %s: waiting for another client's trial to end\n", client)
	select {
	case s.trial <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// recvSpec checks a client's request for a receiver.
func recvSpec(req ctrlRequest, ip net.IP) (workerSpec, error) {
	m, err := zerocopy.ParseMethod(req.Method)
	if err != nil {
		return workerSpec{}, err
	}
	switch {
	case m == zerocopy.Auto || !zerocopy.Supported(m, false):
		return workerSpec{}, fmt.Errorf("receive method %v: not one of the server's %v", m, zerocopy.ReceiveMethods())
	case req.Size < 1:
		return workerSpec{}, fmt.Errorf("size %d: must be at least one byte", req.Size)
	case req.Transfers < 1 || req.Transfers > maxTransfers:
		return workerSpec{}, fmt.Errorf("transfers %d: want 1 to %d", req.Transfers, maxTransfers)
	}
	timeout := min(max(time.Duration(req.TimeoutNs), time.Second), 10*time.Minute)
	if req.TLS && m != zerocopy.ReadWrite {
		return workerSpec{}, fmt.Errorf("receive method %v: a TLS receiver reads by readwrite", m)
	}
	return workerSpec{
		role: "recv", method: m, size: req.Size, transfers: req.Transfers,
		listen: net.JoinHostPort(ip.String(), "0"), tls: req.TLS, timeout: timeout,
	}, nil
}

// serveTrial runs one receiver and reports its address and then its
// figures. An error it returns means the control connection is broken.
func serveTrial(ctx context.Context, enc *json.Encoder, cfg *ServeConfig, spec workerSpec) error {
	c, err := startChild(ctx, cfg.Command, cfg.Env, spec, -1)
	var addr string
	if err == nil {
		addr, err = c.listenAddr()
	}
	if err != nil {
		return enc.Encode(ctrlReply{Error: err.Error()})
	}
	if err := enc.Encode(ctrlReply{Addr: addr}); err != nil {
		c.kill()
		return err
	}
	fig, err := c.wait()
	if err != nil {
		return enc.Encode(ctrlReply{Error: err.Error()})
	}
	return enc.Encode(ctrlReply{Result: &fig})
}

// remoteEnd runs receivers on a Serve host.
type remoteEnd struct {
	conn    net.Conn
	enc     *json.Encoder
	dec     *json.Decoder
	peer    HostInfo
	peerTLS bool // the server runs TLS receivers
}

// dialServer connects to a Serve address and greets it.
func dialServer(ctx context.Context, addr string) (*remoteEnd, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", withPort(addr))
	if err != nil {
		return nil, err
	}
	r := &remoteEnd{conn: conn, enc: json.NewEncoder(conn), dec: json.NewDecoder(conn)}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	reply, err := r.call(ctrlRequest{Op: "hello", Version: protocolVersion})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("bench server %s: %w", addr, err)
	}
	if reply.Host == nil {
		conn.Close()
		return nil, fmt.Errorf("bench server %s: no host description in its greeting", addr)
	}
	r.peer = *reply.Host
	r.peerTLS = reply.TLS
	return r, nil
}

// call sends req (unless it is empty) and reads one reply.
func (r *remoteEnd) call(req ctrlRequest) (ctrlReply, error) {
	if req.Op != "" {
		if err := r.enc.Encode(req); err != nil {
			return ctrlReply{}, err
		}
	}
	var reply ctrlReply
	if err := r.dec.Decode(&reply); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return reply, err
	}
	if reply.Error != "" {
		return reply, errors.New(reply.Error)
	}
	return reply, nil
}

func (r *remoteEnd) host() HostInfo { return r.peer }
func (r *remoteEnd) close() error   { return r.conn.Close() }
func (r *remoteEnd) tls() bool      { return r.peerTLS }

func (r *remoteEnd) localIP() net.IP {
	if a, ok := r.conn.LocalAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}

func (r *remoteEnd) start(ctx context.Context, spec workerSpec) (string, func() (sideFigures, error), error) {
	stop := context.AfterFunc(ctx, func() { r.conn.Close() })
	reply, err := r.call(ctrlRequest{
		Op: "recv", Method: spec.method.String(), Size: spec.size,
		Transfers: spec.transfers, TimeoutNs: int64(spec.timeout), TLS: spec.tls,
	})
	if err == nil && reply.Addr == "" {
		err = errors.New("no address in the reply")
	}
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("bench server: %w", err)
	}
	wait := func() (sideFigures, error) {
		defer stop()
		reply, err := r.call(ctrlRequest{})
		if err == nil && reply.Result == nil {
			err = errors.New("no result in the reply")
		}
		if err != nil {
			return sideFigures{}, fmt.Errorf("bench server: %w", err)
		}
		return *reply.Result, nil
	}
	return reply.Addr, wait, nil
}

// withPort adds DefaultPort to an address that has none.
func withPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, DefaultPort)
}

func logf(w io.Writer, format string, a ...any) {
	if w != nil {
		fmt.Fprintf(w, format, a...)
	}
}
