package secure

import (
	"crypto/tls"
	"net"
	"sync"
)

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
//
// The first error writing to the socket is kept and returned by every
// later write, as crypto/tls does for its own: records it took for written
// may not have left, so nothing may follow them.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	out      []byte
	batching bool
	err      error
}

func newBatchConn(c net.Conn) *batchConn { return &batchConn{Conn: c} }

// Write gathers p while batching, writing the batch first if p would not
// fit, and p itself if it is larger than a batch; at other times it writes
// p at once.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if !b.batching {
		return b.writeLocked(p)
	}
	if len(b.out)+len(p) > RecordBatch {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= RecordBatch {
			return b.writeLocked(p)
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
		return b.err
	}
	return b.flushLocked()
}

// flushLocked writes what was gathered; b.mu is held.
func (b *batchConn) flushLocked() error {
	if b.err != nil || len(b.out) == 0 {
		return b.err
	}
	_, err := b.writeLocked(b.out)
	b.out = b.out[:0]
	return err
}

// writeLocked writes p to the socket, keeping the first error; b.mu is
// held.
func (b *batchConn) writeLocked(p []byte) (int, error) {
	n, err := b.Conn.Write(p)
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

// tlsConn is a session's TLS connection: during each Write the batchConn
// beneath gathers crypto/tls's records, and at its end writes them, so
// that every Write is on the wire when it returns, as on any net.Conn.
type tlsConn struct {
	*tls.Conn
	under *batchConn
}

// Write encrypts p and writes it. It returns len(p) and nil once all of
// p's records are written to the socket, and otherwise 0 and the error
// (the records may be partly written, and every later Write fails).
func (c *tlsConn) Write(p []byte) (int, error) {
	if err := c.under.batch(true); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(p)
	if ferr := c.under.batch(false); ferr != nil {
		return 0, ferr
	}
	return n, err
}
