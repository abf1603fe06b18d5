package session

import (
	"bufio"
	"context"
	"net"
	"os"
	"testing"

	"github.com/zcopy/zcopy/internal/proto"
)

// receiveOn starts a receiver with o on root, on one end of a new
// loopback pair, and returns the other end; done gets the receiver's
// error once it ends.
func receiveOn(t *testing.T, root *os.Root, o Options) (c net.Conn, done <-chan error) {
	t.Helper()
	c, s := tcpPair(t)
	ended := make(chan error, 1)
	go func() {
		_, err := Receive(context.Background(), s, root, o)
		s.Close()
		ended <- err
	}()
	return c, ended
}

// handSender starts a plaintext receiver on root and plays the sender's
// side of the handshake by hand, with flags in its Hello; the test then
// writes the manifest and bodies on c and reads plans and the summary from
// br. done gets the receiver's error once it ends.
func handSender(t *testing.T, root *os.Root, flags uint8) (c net.Conn, br *bufio.Reader, done <-chan error) {
	t.Helper()
	return handSenderWith(t, root, flags, Options{Plaintext: true, Warn: func(string) {}})
}

// handSenderWith is handSender with the receiver's options o (which must
// be plaintext).
func handSenderWith(t *testing.T, root *os.Root, flags uint8, o Options) (c net.Conn, br *bufio.Reader, done <-chan error) {
	t.Helper()
	c, done = receiveOn(t, root, o)
	br = bufio.NewReader(c)
	c.Write((&proto.Hello{Version: proto.Version, Role: proto.RoleSender, Flags: flags}).Append(nil))
	proto.ReadHello(br)
	c.Write((&proto.Verdict{OK: true}).Append(nil))
	proto.ReadVerdict(br)
	return c, br, done
}
