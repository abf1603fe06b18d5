package secure

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// NewCertificate makes a throwaway self-signed Ed25519 certificate, valid
// from a day ago for a year (clocks disagree; nobody checks it), for an end
// that accepts TLS connections. It is never written anywhere: a process
// makes one when it starts listening. It costs well under a millisecond.
func NewCertificate() (tls.Certificate, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("secure: making a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("secure: making a serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "zcopy (throwaway; the token authenticates)"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("secure: making a certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// base is what both ends' configurations share: TLS 1.3 only, full-size
// records from the first byte (dynamic record sizing is for browsers
// waiting on the first bytes of a page; a transfer wants the fewest
// records), and no session tickets (every session makes a fresh key
// exchange, and a server keeps no ticket keys).
func base() *tls.Config {
	return &tls.Config{
		MinVersion:                  tls.VersionTLS13,
		MaxVersion:                  tls.VersionTLS13,
		DynamicRecordSizingDisabled: true,
		SessionTicketsDisabled:      true,
		NextProtos:                  []string{ALPN},
	}
}

// ALPN is the application protocol both ends offer (RFC 7301): a TLS
// server that speaks something else refuses the handshake instead of
// taking zcopy's records for its own.
const ALPN = "zcopy/5"

// ServerConfig returns the configuration of an end that accepts
// connections, presenting cert (from NewCertificate). Clients present no
// certificate.
func ServerConfig(cert tls.Certificate) *tls.Config {
	c := base()
	c.Certificates = []tls.Certificate{cert}
	return c
}

// ClientConfig returns the configuration of an end that opens connections.
// It accepts any certificate (InsecureSkipVerify): the server is
// authenticated by its proof of the token over Binding, never by its
// certificate, which is a throwaway.
func ClientConfig() *tls.Config {
	c := base()
	c.InsecureSkipVerify = true
	return c
}

// exporterLabel names zcopy's use of the TLS exporter (RFC 8446, section
// 7.5); a change to what a proof covers changes it.
const exporterLabel = "EXPORTER-zcopy-token-proof"

// BindingSize is the length of Binding's value in bytes.
const BindingSize = 32

// Binding returns the 32-byte value a session's token proofs are bound to:
// the TLS exporter for exporterLabel with no context. Both ends of one TLS
// session get the same value; the two sessions of a man in the middle get
// different ones. It fails for a connection that is not TLS 1.3 or whose
// handshake has not completed.
func Binding(cs tls.ConnectionState) ([]byte, error) {
	if !cs.HandshakeComplete || cs.Version != tls.VersionTLS13 {
		return nil, errors.New("secure: binding: not a completed TLS 1.3 session")
	}
	b, err := cs.ExportKeyingMaterial(exporterLabel, nil, BindingSize)
	if err != nil {
		return nil, fmt.Errorf("secure: binding: %w", err)
	}
	return b, nil
}
