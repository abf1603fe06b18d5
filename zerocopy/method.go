package zerocopy

import (
	"fmt"
	"strings"
)

// Method names a way of moving file data to or from a socket.
type Method uint8

// The transfer methods. Their order is stable: it is used in tables and JSON.
const (
	// Auto picks the best method the platform offers and falls back to the
	// next one when the kernel refuses it before any byte has moved.
	Auto Method = iota
	// ReadWrite reads into a reusable user-space buffer and writes it out:
	// two CPU copies and four context switches per buffer.
	ReadWrite
	// MMap maps the file in windows and writes straight from the mapping,
	// saving the kernel-to-user copy. Send only.
	MMap
	// Sendfile moves file pages to the socket inside the kernel. Send only.
	Sendfile
	// Splice moves data through a kernel pipe: file -> pipe -> socket when
	// sending, socket -> pipe -> file when receiving. Linux only.
	Splice
)

var methodNames = [...]string{
	Auto:      "auto",
	ReadWrite: "readwrite",
	MMap:      "mmap",
	Sendfile:  "sendfile",
	Splice:    "splice",
}

// String returns the method's name as ParseMethod accepts it.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// ParseMethod returns the Method with the given name ("auto", "readwrite",
// "mmap", "sendfile" or "splice"; case does not matter).
func ParseMethod(s string) (Method, error) {
	for i, name := range methodNames {
		if strings.EqualFold(s, name) {
			return Method(i), nil
		}
	}
	return Auto, fmt.Errorf("unknown method %q (want one of %s)", s, strings.Join(methodNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler, so a Method reads as its
// name in JSON.
func (m Method) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Method) UnmarshalText(b []byte) error {
	v, err := ParseMethod(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// SendMethods returns the concrete methods SendFile supports on this
// platform, in table order (ReadWrite first).
func SendMethods() []Method {
	ms := []Method{ReadWrite}
	if haveMMap {
		ms = append(ms, MMap)
	}
	if haveSendfile {
		ms = append(ms, Sendfile)
	}
	if haveSplice {
		ms = append(ms, Splice)
	}
	return ms
}

// ReceiveMethods returns the concrete methods ReceiveFile supports on this
// platform.
func ReceiveMethods() []Method {
	if haveSplice {
		return []Method{ReadWrite, Splice}
	}
	return []Method{ReadWrite}
}

// Supported reports whether m can be used for sending (send true) or
// receiving (send false) on this platform. Auto is always supported.
func Supported(m Method, send bool) bool {
	if m == Auto {
		return true
	}
	list := ReceiveMethods()
	if send {
		list = SendMethods()
	}
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}
