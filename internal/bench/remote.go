package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

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
const protocolVersion = 1

type ctrlRequest struct {
	Op        string `json:"op"`
	Version   int    `json:"version,omitempty"`
	Method    string `json:"method,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Transfers int    `json:"transfers,omitempty"`
	TimeoutNs int64  `json:"timeout_ns,omitempty"`
}

type ctrlReply struct {
	Host   *HostInfo    `json:"host,omitempty"`
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
	// OneOff makes Serve return after its first client.
	OneOff bool
	// Log, if set, gets a line when Serve listens and one per client.
	Log io.Writer
	// OnListen, if set, is called with the bound address (useful with
	// port 0).
	OnListen func(net.Addr)
}

// Serve answers benchmark clients (Config.To) one at a time until ctx is
// done, running a receiver worker for each of their trials. Data
// connections arrive on the address the client's control connection
// reached, on a port chosen per trial.
func Serve(ctx context.Context, cfg ServeConfig) error {
	if len(cfg.Command) == 0 {
		return errors.New("no worker command")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", withPort(cfg.Addr))
	if err != nil {
		return err
	}
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	logf(cfg.Log, "zcopy bench: serving on %s\n", ln.Addr())
	if cfg.OnListen != nil {
		cfg.OnListen(ln.Addr())
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		n, err := serveClient(ctx, conn, &cfg)
		if err != nil {
			logf(cfg.Log, "zcopy bench: client %s: %d trials, then %v\n", conn.RemoteAddr(), n, err)
		} else {
			logf(cfg.Log, "zcopy bench: client %s: %d trials\n", conn.RemoteAddr(), n)
		}
		if cfg.OneOff {
			return err
		}
	}
}

// serveClient answers one client until it closes the connection, and
// returns how many trials it ran.
func serveClient(ctx context.Context, conn net.Conn, cfg *ServeConfig) (trials int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.Close()
	context.AfterFunc(ctx, func() { conn.Close() })

	reqs := make(chan ctrlRequest)
	go func() {
		// Reading goes on while a receiver runs, so that a client that goes
		// away cancels it at once.
		defer cancel()
		defer close(reqs)
		dec := json.NewDecoder(conn)
		for {
			var r ctrlRequest
			if err := dec.Decode(&r); err != nil {
				return
			}
			select {
			case reqs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	enc := json.NewEncoder(conn)
	ip := conn.LocalAddr().(*net.TCPAddr).IP
	for req := range reqs {
		switch req.Op {
		case "hello":
			if req.Version != protocolVersion {
				enc.Encode(ctrlReply{Error: fmt.Sprintf("protocol version %d, this server speaks %d", req.Version, protocolVersion)})
				return trials, fmt.Errorf("protocol version %d", req.Version)
			}
			h := LocalHost()
			if err := enc.Encode(ctrlReply{Host: &h}); err != nil {
				return trials, err
			}
		case "recv":
			spec, err := recvSpec(req, ip)
			if err != nil {
				if err := enc.Encode(ctrlReply{Error: err.Error()}); err != nil {
					return trials, err
				}
				continue
			}
			trials++
			if err := serveTrial(ctx, enc, cfg, spec); err != nil {
				return trials, err
			}
		default:
			enc.Encode(ctrlReply{Error: fmt.Sprintf("unknown request %q", req.Op)})
			return trials, fmt.Errorf("unknown request %q", req.Op)
		}
	}
	return trials, nil
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
	return workerSpec{
		role: "recv", method: m, size: req.Size, transfers: req.Transfers,
		listen: net.JoinHostPort(ip.String(), "0"), timeout: timeout,
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
	conn net.Conn
	enc  *json.Encoder
	dec  *json.Decoder
	peer HostInfo
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
		Transfers: spec.transfers, TimeoutNs: int64(spec.timeout),
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
