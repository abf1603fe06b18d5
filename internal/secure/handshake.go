package secure

import (
	"context"
	"crypto/tls"
	"net"
)

// Handshake runs the TLS 1.3 handshake on conn, as the client if client is
// set and otherwise as the server presenting cert (a throwaway one is made
// if cert is nil), under ctx and whatever deadline conn has. It returns the
// TLS connection, whose records are written in batches (see batchConn),
// and the session's Binding. The error is crypto/tls's for a
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
