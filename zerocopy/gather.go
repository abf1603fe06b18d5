package zerocopy

// GatherMax is the largest body that SendFile, choosing by itself (Auto),
// reads into memory and writes in one call together with its header and
// trailer. For a body this small the copy costs less than the system calls
// it saves: corking, uncorking, and a write and a sendfile instead of one
// write (an HTTP response of a 4 KiB file: pread and write, not
// setsockopt, write, sendfile, setsockopt).
const GatherMax = 16 << 10

// gathers reports whether a body of n bytes with this header and trailer
// is sent by sendGathered.
func (t *transfer) gathers(o *SendOptions, n int64) bool {
	return o.Method == Auto && t.regular && t.conn != nil && n >= 0 && n <= GatherMax &&
		len(o.Header)+len(o.Trailer) > 0 && len(o.Header)+int(n)+len(o.Trailer) <= DefaultBufferSize
}

// sendGathered reads n bytes of the file at off after header, appends
// trailer, and writes the lot at once. A file that turns out shorter gets
// the header and the bytes that exist, and ErrTruncated.
func (t *transfer) sendGathered(header []byte, off, n int64, trailer []byte) error {
	t.stats.Method = ReadWrite
	bp := getBuf(DefaultBufferSize)
	defer putBuf(bp)
	b := append((*bp)[:0], header...)
	body := b[len(header) : len(header)+int(n)]
	got := 0
	for got < len(body) {
		k, err := t.readFile(body[got:], off+int64(got))
		if err != nil {
			return err
		}
		if k == 0 {
			break
		}
		got += k
	}
	b = b[:len(header)+got]
	if got == len(body) {
		b = append(b, trailer...)
	}
	w, err := t.writePeer(b)
	t.advance(t.peerCall("write"), int64(min(max(w-len(header), 0), got)))
	switch {
	case err != nil:
		return err
	case got < len(body):
		return t.truncated(off, n)
	}
	return nil
}
