package zerocopy

import (
	"errors"
	"fmt"
)

// Cork holds back partial TCP segments on conn until uncork is called
// (TCP_CORK on Linux, TCP_NOPUSH on the BSDs and macOS, where TCP_NODELAY
// is cleared meanwhile and restored afterwards). A caller that writes
// many small records and bodies in a row corks once around all of them and
// passes SendOptions.NoCork to each SendFile. Linux sends a partial segment
// held by the cork after 200 ms regardless. It fails with an error matching
// errors.ErrUnsupported where conn has no descriptor or the system has no
// cork; the caller then goes on uncorked.
func Cork(conn any) (uncork func(), err error) {
	rc := rawConn(conn)
	if rc == nil {
		return nil, fmt.Errorf("cork: %w", errors.ErrUnsupported)
	}
	var n int64
	return corkConn(rc, &n)
}
