package secure

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNewToken: tokens have the documented shape, are judged at
// TokenBits, and differ.
func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := NewToken()
		if len(tok) != 29 || strings.Count(tok, "-") != 4 || !isNewToken(tok) {
			t.Fatalf("token %q: not five groups of five", tok)
		}
		if seen[tok] {
			t.Fatalf("token %q made twice", tok)
		}
		seen[tok] = true
		if Strength(tok) != TokenBits || Weak(tok, false) != "" {
			t.Errorf("token %q judged at %.0f bits", tok, Strength(tok))
		}
	}
}

// TestWeak: short or one-class tokens are warned about, with the reason
// for the mode; long random ones are not.
func TestWeak(t *testing.T) {
	for _, tc := range []struct {
		token string
		weak  bool
	}{
		{"s3cret", true},
		{"correcthorse", true},               // 12 lower-case letters: 56 bits
		{"Tr0ub4dor&3", true},                // 11 characters of all classes: 72 bits
		{"aZ3kP9qLm2xR7vB4nW8c", false},      // 20 letters and digits: 119 bits
		{"abcdefghijklmnopqrstuvwxy", false}, // 25 lower-case: 117 bits (an upper bound: see Strength)
		{"", true},
	} {
		w := Weak(tc.token, false)
		if (w != "") != tc.weak {
			t.Errorf("Weak(%q) = %q; want weak %v (%.0f bits)", tc.token, w, tc.weak, Strength(tc.token))
		}
		if tc.weak && !strings.Contains(w, "in the middle") {
			t.Errorf("Weak(%q) under TLS = %q; want the man in the middle named", tc.token, w)
		}
		if pw := Weak(tc.token, true); tc.weak && !strings.Contains(pw, "watch the connection") {
			t.Errorf("Weak(%q) in plaintext = %q; want an eavesdropper named", tc.token, pw)
		}
	}
}

// pipePair runs Handshake at both ends of a TCP connection on loopback.
func pipePair(t *testing.T, cert *tls.Certificate) (client, server net.Conn, cb, sb []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	var serr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			serr = err
			return
		}
		server, sb, serr = Handshake(context.Background(), c, false, cert)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client, cb, err = Handshake(context.Background(), c, true, nil)
	wg.Wait()
	if err != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", err, serr)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server, cb, sb
}

// TestHandshakeBinding: both ends of one TLS session get the same 32-byte
// binding; another session gets another, even with the same certificate,
// which is what makes two TLS sessions of a man in the middle visible.
func TestHandshakeBinding(t *testing.T) {
	cert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	_, _, cb, sb := pipePair(t, &cert)
	if len(cb) != BindingSize || !bytes.Equal(cb, sb) {
		t.Fatalf("bindings differ within a session: %x, %x", cb, sb)
	}
	_, _, cb2, _ := pipePair(t, &cert)
	if bytes.Equal(cb, cb2) {
		t.Fatal("two sessions got the same binding")
	}
}

// countConn counts the writes that reach the socket.
type countConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestBatchedRecords: a 256 KiB Write, sixteen full TLS records, reaches
// the socket in one or two writes instead of sixteen, and is all there
// when Write returns; Close still delivers the close_notify, so the peer
// reads a clean end of stream.
func TestBatchedRecords(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 256 << 10
	data := bytes.Repeat([]byte("zcopy"), size/5+1)[:size]
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		s, _, err := Handshake(context.Background(), c, false, nil)
		if err != nil {
			got <- nil
			return
		}
		b, err := io.ReadAll(s) // to the close_notify: a clean EOF
		if err != nil {
			t.Errorf("server read: %v", err)
		}
		got <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := &countConn{Conn: raw}
	c, _, err := Handshake(context.Background(), cc, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := cc.writes
	if n, err := c.Write(data); n != size || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if w := cc.writes - before; w > 2 {
		t.Errorf("16 records took %d writes to the socket; want them batched (1 or 2)", w)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("the server read %d bytes, want %d identical", len(b), size)
	}
}

// TestAlertDuringWrite: crypto/tls writes from its read path too (an
// alert for a bad record, an answer to a KeyUpdate), in the reading
// goroutine, while another goroutine may be in Write. The batch beneath
// TLS must take both in order and without a data race (run under -race):
// here the peer corrupts the stream under TLS while this end writes
// without pause, so the reader's alert meets the writer's batches.
func TestAlertDuringWrite(t *testing.T) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srvDone := make(chan struct{})
		go func() {
			defer close(srvDone)
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			defer raw.Close()
			s, _, err := Handshake(context.Background(), raw, false, nil)
			if err != nil {
				return
			}
			io.CopyN(io.Discard, s, 1<<20)
			raw.Write(bytes.Repeat([]byte{23, 3, 3, 0, 64}, 64)) // records no key opens
			io.Copy(io.Discard, raw)
		}()
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := Handshake(context.Background(), raw, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		readErr := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 1<<10))
			readErr <- err
		}()
		buf := make([]byte, 256<<10)
	write:
		for {
			select {
			case err := <-readErr:
				if err == nil {
					t.Fatal("read garbage without an error")
				}
				break write
			default:
			}
			if _, err := c.Write(buf); err != nil {
				break
			}
		}
		c.Close()
		ln.Close()
		<-srvDone
	}
}

// TestWriteErrorSticks: once a Write fails (here a write deadline while the
// peer reads nothing), every later Write fails too, even after the
// deadline is lifted and the peer reads again: records crypto/tls took for
// written may not have left, and a record sent after them would be read
// as garbage (bad record MAC) or, worse, as the stream's continuation.
func TestWriteErrorSticks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	drain := make(chan struct{})
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		s, _, err := Handshake(context.Background(), raw, false, nil)
		if err != nil {
			return
		}
		<-drain
		io.Copy(io.Discard, s)
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c, _, err := Handshake(context.Background(), raw, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 256<<10)
	var first error
	for first == nil {
		_, first = c.Write(buf)
	}
	c.SetWriteDeadline(time.Time{})
	close(drain)
	if n, err := c.Write(buf); err == nil {
		t.Fatalf("a Write after %v returned %d, nil; want the error again", first, n)
	}
}
