package testbin

import "syscall"

// SmallBuf is the socket buffer size that SmallRcvBuf and SmallSndBuf set
// (Linux doubles it for its own bookkeeping).
const SmallBuf = 64 << 10

// SmallRcvBuf is a net.ListenConfig or net.Dialer Control function that
// gives a socket (and every connection a listener accepts) a receive
// buffer of SmallBuf before it connects, which the kernel does not grow:
// the window it offers stays small, so what a peer has in flight to it is
// bounded by the peer's own send buffer.
func SmallRcvBuf(network, address string, c syscall.RawConn) error {
	return setSockBuf(c, soRcvBuf)
}

// SmallSndBuf is a net.ListenConfig or net.Dialer Control function that
// gives a socket (and every connection a listener accepts) a send buffer
// of SmallBuf, which the kernel does not grow: a writer on a full socket
// is woken every few tens of KiB the peer reads, where a grown buffer (up
// to 4 MiB, net.ipv4.tcp_wmem) would wake it every MiB or so.
func SmallSndBuf(network, address string, c syscall.RawConn) error {
	return setSockBuf(c, soSndBuf)
}

// setSockBuf sets the socket level option opt of c to SmallBuf.
func setSockBuf(c syscall.RawConn, opt int) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = setsockopt(fd, opt, SmallBuf) })
	if err != nil {
		return err
	}
	return serr
}
