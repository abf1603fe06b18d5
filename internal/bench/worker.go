package bench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/zcopy/zcopy/internal/rawxfer"
	"github.com/zcopy/zcopy/internal/secure"
	"github.com/zcopy/zcopy/zerocopy"
)

// A worker is one side of one trial, run as its own process so the kernel
// accounts its CPU time and context switches apart. It speaks to its parent
// in JSON lines on stdout: a receiver first prints {"listen": ADDR}; every
// worker ends with {"result": {...}} or {"error": "..."}.

// workerLine is one line a worker prints.
type workerLine struct {
	Listen string       `json:"listen,omitempty"`
	Result *sideFigures `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// sideFigures is what one side of a trial measured.
type sideFigures struct {
	// Method is the method that moved the data (zerocopy.Stats.Method), which
	// differs from the one asked for only after a fallback.
	Method string `json:"method"`
	// BytesEach is the bytes each transfer moved (all are checked equal).
	BytesEach int64 `json:"bytes_each"`
	Transfers int   `json:"transfers"`
	// Syscalls is the engine's count over all transfers.
	Syscalls       int64  `json:"syscalls"`
	Fallbacks      int    `json:"fallbacks"`
	FallbackReason string `json:"fallback_reason,omitempty"`
	Lease          bool   `json:"lease,omitempty"`
	LeaseNote      string `json:"lease_note,omitempty"`
	// Nanos is the wall time from the start of the first transfer to the
	// end of the last.
	Nanos int64 `json:"nanos"`
	// TLS says the transfers ran inside TLS 1.3 (secure.Handshake);
	// HandshakeNanos is then the handshake's wall time, from the TCP
	// connection being set up to the handshake being complete at this end.
	TLS            bool  `json:"tls,omitempty"`
	HandshakeNanos int64 `json:"handshake_nanos,omitempty"`
	// Start is the worker's own getrusage just before the first transfer.
	Start usage `json:"start"`
	// Usage is filled in by the parent: the finished process's usage (wait4)
	// minus Start.
	Usage usage `json:"usage"`
}

// workerSpec is a worker's command line.
type workerSpec struct {
	role      string // "send" or "recv"
	method    zerocopy.Method
	size      int64
	transfers int
	file      string // send: the file
	to        string // send: the receiver's address
	listen    string // recv: where to listen
	tls       bool   // run the transfers inside TLS 1.3
	timeout   time.Duration
}

// args renders the spec as the worker's command-line arguments.
func (s workerSpec) args() []string {
	a := []string{
		"--role", s.role,
		"--method", s.method.String(),
		"--size", fmt.Sprint(s.size),
		"--transfers", fmt.Sprint(s.transfers),
		"--timeout", s.timeout.String(),
	}
	if s.file != "" {
		a = append(a, "--file", s.file)
	}
	if s.to != "" {
		a = append(a, "--to", s.to)
	}
	if s.listen != "" {
		a = append(a, "--listen", s.listen)
	}
	if s.tls {
		a = append(a, "--tls")
	}
	return a
}

func parseWorkerArgs(args []string) (workerSpec, error) {
	var s workerSpec
	fs := flag.NewFlagSet("bench-worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.role, "role", "", "send or recv")
	method := fs.String("method", "", "the method")
	fs.Int64Var(&s.size, "size", -1, "bytes per transfer")
	fs.IntVar(&s.transfers, "transfers", 1, "transfers over the connection")
	fs.StringVar(&s.file, "file", "", "the file to send")
	fs.StringVar(&s.to, "to", "", "the receiver's address")
	fs.StringVar(&s.listen, "listen", "", "the address to listen on")
	fs.BoolVar(&s.tls, "tls", false, "run the transfers inside TLS 1.3")
	fs.DurationVar(&s.timeout, "timeout", time.Minute, "how long to wait for the peer to connect")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	var err error
	if s.method, err = zerocopy.ParseMethod(*method); err != nil {
		return s, err
	}
	switch {
	case fs.NArg() != 0:
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	case s.size < 0:
		return s, errors.New("--size is required")
	case s.transfers < 1:
		return s, errors.New("--transfers must be at least 1")
	case s.role == "send" && (s.file == "" || s.to == ""):
		return s, errors.New("a sender needs --file and --to")
	case s.role == "recv" && s.listen == "":
		return s, errors.New("a receiver needs --listen")
	case s.role != "send" && s.role != "recv":
		return s, fmt.Errorf("--role %q: want send or recv", s.role)
	}
	return s, nil
}

// RunWorker is the body of the hidden worker command that Config.Command
// runs: one side of one trial. It prints JSON lines on stdout (see
// sideFigures) and returns an error if the transfer failed, after printing
// it as an {"error": ...} line.
func RunWorker(ctx context.Context, args []string, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	s, err := parseWorkerArgs(args)
	if err == nil {
		var fig sideFigures
		if s.role == "send" {
			fig, err = workSend(ctx, s)
		} else {
			fig, err = workRecv(ctx, s, func(a net.Addr) { enc.Encode(workerLine{Listen: a.String()}) })
		}
		if err == nil {
			return enc.Encode(workerLine{Result: &fig})
		}
	}
	enc.Encode(workerLine{Error: err.Error()})
	return err
}

// workSend connects to the receiver and sends the file s.transfers times.
func workSend(ctx context.Context, s workerSpec) (sideFigures, error) {
	f, err := os.Open(s.file)
	if err != nil {
		return sideFigures{}, err
	}
	defer f.Close()
	conn, err := rawxfer.Connect(ctx, rawxfer.Endpoint{Dial: s.to, DialTimeout: s.timeout})
	if err != nil {
		return sideFigures{}, err
	}
	defer conn.Close()
	var fig sideFigures
	peer, counted, err := secureIf(ctx, s, conn, true, nil, &fig)
	if err != nil {
		return fig, err
	}
	defer peer.Close()
	fig.Start = selfUsage()
	start := time.Now()
	for range s.transfers {
		st, err := zerocopy.SendFile(ctx, peer, f, 0, s.size, &zerocopy.SendOptions{Method: s.method})
		if err := fig.add(st, err, s.size); err != nil {
			return fig, err
		}
	}
	// Closing is part of the send: it is when the last segment is queued
	// (and under TLS, when the close_notify alert is written).
	if err := peer.Close(); err != nil {
		return fig, fmt.Errorf("close: %w", err)
	}
	fig.Nanos = time.Since(start).Nanoseconds()
	counted.account(&fig)
	return fig, nil
}

// workRecv listens, accepts one sender and receives s.transfers times
// s.size bytes into /dev/null.
func workRecv(ctx context.Context, s workerSpec, onListen func(net.Addr)) (sideFigures, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return sideFigures{}, err
	}
	defer null.Close()
	var cert *tls.Certificate
	if s.tls {
		// Made before listening: neither the handshake's time nor the
		// measured region pays for it.
		c, err := secure.NewCertificate()
		if err != nil {
			return sideFigures{}, err
		}
		cert = &c
	}
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	conn, err := rawxfer.Connect(actx, rawxfer.Endpoint{Listen: s.listen, OnListen: onListen})
	cancel()
	if err != nil {
		return sideFigures{}, fmt.Errorf("waiting for the sender: %w", err)
	}
	defer conn.Close()
	var fig sideFigures
	peer, counted, err := secureIf(ctx, s, conn, false, cert, &fig)
	if err != nil {
		return fig, err
	}
	defer peer.Close()
	fig.Start = selfUsage()
	start := time.Now()
	for range s.transfers {
		st, err := zerocopy.ReceiveFile(ctx, null, peer, -1, s.size, &zerocopy.ReceiveOptions{Method: s.method})
		if err := fig.add(st, err, s.size); err != nil {
			return fig, err
		}
	}
	fig.Nanos = time.Since(start).Nanoseconds()
	counted.account(&fig)
	return fig, nil
}

// secureIf returns conn itself for a plain trial. For a TLS trial
// (s.tls) it runs secure.Handshake on conn, as the client if client is
// set, under s.timeout, records the handshake's time in fig, and returns
// the TLS connection; the calls made on it and on conn beneath it are
// counted from then on, so that fig's system calls can be corrected (see
// tlsCounts.account).
func secureIf(ctx context.Context, s workerSpec, conn net.Conn, client bool, cert *tls.Certificate, fig *sideFigures) (net.Conn, *tlsCounts, error) {
	if !s.tls {
		return conn, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	under := &countConn{Conn: conn}
	start := time.Now()
	tc, _, err := secure.Handshake(ctx, under, client, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS handshake: %w", err)
	}
	fig.TLS = true
	fig.HandshakeNanos = time.Since(start).Nanoseconds()
	under.calls = 0
	top := &countConn{Conn: tc}
	return top, &tlsCounts{tls: top, tcp: under}, nil
}

// tlsCounts are the calls one end of a TLS trial made on the TLS
// connection and on the TCP connection beneath it.
type tlsCounts struct{ tls, tcp *countConn }

// account corrects the engine's count of system calls: it counts each Read
// or Write on the TLS connection as one system call, which it is not (a
// Read returns one record, a Write seals records into internal/secure's
// batch); the reads and writes on the TCP connection beneath are the
// system calls. (Go's own retries of a write that found the socket full
// are not seen, unlike the engine's on a plain connection.)
func (c *tlsCounts) account(fig *sideFigures) {
	if c != nil {
		fig.Syscalls += c.tcp.calls - c.tls.calls
	}
}

// countConn counts the Reads and Writes made on a connection. Only one
// goroutine uses it.
type countConn struct {
	net.Conn
	calls int64
}

func (c *countConn) Read(p []byte) (int, error) {
	c.calls++
	return c.Conn.Read(p)
}

func (c *countConn) Write(p []byte) (int, error) {
	c.calls++
	return c.Conn.Write(p)
}

// add accounts one transfer, and turns a short one into an error.
func (f *sideFigures) add(st zerocopy.Stats, err error, size int64) error {
	if err != nil {
		return err
	}
	if st.Bytes != size {
		return fmt.Errorf("transfer %d moved %d bytes, want %d", f.Transfers+1, st.Bytes, size)
	}
	f.Method = st.Method.String()
	f.BytesEach = st.Bytes
	f.Transfers++
	f.Syscalls += st.Syscalls
	f.Fallbacks += st.Fallbacks
	if st.FallbackReason != "" {
		f.FallbackReason = st.FallbackReason
	}
	f.Lease = st.Lease
	f.LeaseNote = st.LeaseNote
	return nil
}
