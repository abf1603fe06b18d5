package secure

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
)

// Handshake runs the TLS 1.3 handshake on conn, as the client if client is
// set and otherwise as the server presenting cert (a throwaway one is made
// if cert is nil), under ctx and whatever deadline conn has. It returns the
// TLS connection, whose records are written and read in batches (see
// batchConn), and the session's Binding. The error is crypto/tls's for a
// failed handshake (a tls.RecordHeaderError for a peer that does not
// speak TLS, holding its first five bytes).
func Handshake(ctx context.Context, conn net.Conn, client bool, cert *tls.Certificate) (net.Conn, []byte, error) {
	under := newBatchConn(conn)
	var tc *tls.Conn
	if client {
		tc = tls.Client(under, ClientConfig())
	} else {
		if cert == nil {
			c, err := NewCertificate()
			if err != nil {
				return nil, nil, err
			}
			cert = &c
		}
		tc = tls.Server(under, ServerConfig(*cert))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, err
	}
	binding, err := Binding(tc.ConnectionState())
	if err != nil {
		return nil, nil, err
	}
	return &tlsConn{Conn: tc, under: under}, binding, nil
}

// RecordBatch is how many bytes of TLS records a connection from Handshake
// gathers before it writes them: sixteen full TLS 1.3 records (16 KiB of
// data and 22 bytes more each: a 5-byte header, the inner content type
// and a 16-byte AES-GCM tag), all the records of one 256 KiB Write, which
// then costs one write(2). 256 KiB even took two (measured by zcopy
// bench's tls row: 12,292 against 8,196 system calls per GiB).
const RecordBatch = 16 * (16<<10 + 22)

// batchConn is the TCP connection beneath a session's TLS. While a Write
// of the tlsConn above is in progress (batching), it gathers the records
// crypto/tls writes one by one (a write(2) per 16 KiB record), and the
// tlsConn writes them at once when its Write ends. That costs one copy of
// the ciphertext, far less than the system calls it saves. Anything
// crypto/tls writes at another time (the handshake; an alert or a
// KeyUpdate answer from its read path, which can run in another goroutine
// beside a Write) goes straight through, in order with the batches: mu
// serialises both. Reads are left alone: crypto/tls already reads
// whatever the socket holds into its own buffer, and a buffer beneath it
// measured no faster for its extra copy.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	out      []byte
	batching bool
}

func newBatchConn(c net.Conn) *batchConn { return &batchConn{Conn: c} }

// Write gathers p while batching, writing the batch first if p would not
// fit, and p itself if it is larger than a batch; at other times it writes
// p at once.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.Conn.Write(p)
	}
	if len(b.out)+len(p) > RecordBatch {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= RecordBatch {
			return b.Conn.Write(p)
		}
	}
	b.out = append(b.out, p...) // grows to a batch only for a peer that writes that much
	return len(p), nil
}

// batch turns batching on or off; turning it off writes what was gathered.
func (b *batchConn) batch(on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = on
	if on {
		return nil
	}
	return b.flushLocked()
}

// flushLocked writes what was gathered; b.mu is held.
func (b *batchConn) flushLocked() error {
	if len(b.out) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.out)
	b.out = b.out[:0]
	return err
}

// tlsConn is a session's TLS connection: during each Write the batchConn
// beneath gathers crypto/tls's records, and at its end writes them, so
// that every Write is on the wire when it returns, as on any net.Conn.
type tlsConn struct {
	*tls.Conn
	under *batchConn
}

func (c *tlsConn) Write(p []byte) (int, error) {
	c.under.batch(true)
	n, err := c.Conn.Write(p)
	if ferr := c.under.batch(false); err == nil {
		err = ferr
	}
	return n, err
}
