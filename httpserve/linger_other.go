//go:build !linux

package httpserve

import "net"

// unreadInput reports false: outside Linux a connection is closed at once.
func unreadInput(net.Conn) bool { return false }
