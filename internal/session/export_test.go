package session

// TCPPair gives the external tests (package session_test) tcpPair.
var TCPPair = tcpPair
