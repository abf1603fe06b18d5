// Package secure holds what zcopy's encrypted transfers need from TLS 1.3
// (crypto/tls) and nothing else: a throwaway self-signed certificate for the
// end that accepts connections, the tls.Config of either end, the value a
// session binds its token proof to (an exporter of the TLS session, RFC
// 8446 section 7.5), and the tokens themselves: a strong random one for a
// listening end started without one, and a judgement of a token a user
// chose.
//
// The certificate authenticates nothing: the client accepts any. A peer is
// authenticated by proving the shared token over Binding, a value both ends
// derive from their TLS session and that a man in the middle, who must run
// one TLS session towards each end, cannot make equal on both sides
// (docs/PROTOCOL.md, section 1). The package holds no state of its own.
package secure
