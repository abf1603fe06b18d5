package zerocopy

import (
	"fmt"
	"io"
)

// sendReadWrite is the classic loop: pread into one reusable buffer, write
// it to the peer. It never refuses a file or peer.
func (t *transfer) sendReadWrite(off, n int64) (bool, error) {
	bp := getBuf(t.bufSize)
	defer putBuf(bp)
	buf := *bp
	var written int64
	for n < 0 || written < n {
		if err := t.stopped(); err != nil {
			return true, err
		}
		p := buf
		if n >= 0 && n-written < int64(len(p)) {
			p = p[:n-written]
		}
		k, err := t.readFile(p, off+written)
		if err != nil {
			return true, err
		}
		if k == 0 {
			if n < 0 {
				return true, nil
			}
			return true, t.truncated(off, n)
		}
		w, err := t.writePeer(p[:k])
		written += int64(w)
		t.advance(t.peerCall("write"), int64(w))
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// receiveReadWrite reads from the peer into one reusable buffer and writes
// it to the file, at off (or at the file's own position when off < 0),
// until n bytes (or, for n < 0, end of stream). A peer without a
// descriptor may hand over a little at a time (a *tls.Conn gives one
// record, at most 16 KiB, per Read): its reads fill the buffer before it is
// written, so a file gets one write per buffer, not one per record.
func (t *transfer) receiveReadWrite(off, n int64) (bool, error) {
	bp := getBuf(t.bufSize)
	defer putBuf(bp)
	buf := *bp
	var got int64
	for n < 0 || got < n {
		if err := t.stopped(); err != nil {
			return true, err
		}
		p := buf
		if n >= 0 && n-got < int64(len(p)) {
			p = p[:n-got]
		}
		k, rerr := t.readPeer(p)
		for more := k; t.conn == nil && rerr == nil && more > 0 && k < len(p); k += more {
			more, rerr = t.readPeer(p[k:])
		}
		if k > 0 {
			w, err := t.writeFile(p[:k], advanceOffset(off, got))
			got += int64(w)
			t.advance(fileCall(off), int64(w))
			if err != nil {
				return true, err
			}
		}
		if rerr == io.EOF {
			return true, t.earlyEOF(got, n)
		}
		if rerr != nil {
			return true, rerr
		}
	}
	return true, nil
}

// earlyEOF is the error for a stream that ended after got of n bytes: none
// when n < 0 (receive to end of stream) or when all n arrived.
func (t *transfer) earlyEOF(got, n int64) error {
	if n < 0 || got >= n {
		return nil
	}
	return fmt.Errorf("%w: the peer closed after %d of %d bytes", io.ErrUnexpectedEOF, got, n)
}

// peerCall names the call that writes to the peer: call, or "Write" for
// a peer without a descriptor (see testHookMoved).
func (t *transfer) peerCall(call string) string {
	if t.conn == nil {
		return "Write"
	}
	return call
}

// fileCall names the call that writes received bytes into the file at
// off: pwrite, or write at the file's own position (see testHookMoved).
func fileCall(off int64) string {
	if off < 0 {
		return "write"
	}
	return "pwrite"
}

// advanceOffset returns off+k, or a negative offset (write at the file's own
// position) unchanged.
func advanceOffset(off, k int64) int64 {
	if off < 0 {
		return off
	}
	return off + k
}
