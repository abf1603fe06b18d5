package session

import (
	"fmt"
	"os"
	"time"
)

// A stream group costs the end that keeps it something until its streams
// have all come and gone: a receiver holds the part of every file that
// arrives in ranges (two descriptors each) and the directory work, a
// sender serving a fetch holds a walk of its tree. Any peer can open one
// before it proves anything beyond the handshake, so the groups held at
// once are bounded, per peer host and in all, and an idle group is
// forgotten (issue 14).

// Default group limits: a host rarely runs more than a few transfers over
// several streams at once; a server rarely serves more than a few hundred.
const (
	defaultGroupsPerPeer = 16
	defaultGroups        = 256
)

// groupIdle is how long a group is kept once it is idle and not all its
// streams have come: the rest may still be connecting; after that, a
// receiver removes its incomplete files and frees their names, and a
// sender forgets its walk. $ZCOPY_GROUP_IDLE (a Go duration) overrides it,
// for tests of whole programs.
var groupIdle = 30 * time.Second

func init() {
	if d, err := time.ParseDuration(os.Getenv("ZCOPY_GROUP_IDLE")); err == nil && d > 0 {
		groupIdle = d
	}
}

// GroupLimits bound the stream groups a Groups or a Shares holds at once.
// A stream that would open one more is refused, with a message that
// reaches its peer: each range of a file it announces fails with it
// (Groups), or it is offered one omitted item that carries it (Shares).
// Streams of a group already held are never refused.
type GroupLimits struct {
	PerPeer int           // groups from one peer host (16 if zero)
	Total   int           // groups in all (256 if zero)
	Idle    time.Duration // how long an idle group is kept (30 s if zero)
}

func (l GroupLimits) perPeer() int {
	if l.PerPeer > 0 {
		return l.PerPeer
	}
	return defaultGroupsPerPeer
}

func (l GroupLimits) total() int {
	if l.Total > 0 {
		return l.Total
	}
	return defaultGroups
}

func (l GroupLimits) idle() time.Duration {
	if l.Idle > 0 {
		return l.Idle
	}
	return groupIdle
}

// admit returns a *groupsFull if m, the groups held, leaves no room under
// l for one more from peer.
func admit[T any](l GroupLimits, m map[groupKey]*T, peer string) error {
	if len(m) >= l.total() {
		return &groupsFull{limit: l.total(), idle: l.idle()}
	}
	n := 0
	for k := range m {
		if k.peer == peer {
			n++
		}
	}
	if n >= l.perPeer() {
		return &groupsFull{peer: peer, limit: l.perPeer(), idle: l.idle()}
	}
	return nil
}

// groupsFull refuses a group past GroupLimits.
type groupsFull struct {
	peer  string // "" when the limit in all was reached
	limit int
	idle  time.Duration
}

func (e *groupsFull) Error() string {
	from := ""
	if e.peer != "" {
		from = " from " + e.peer
	}
	return fmt.Sprintf("refused: %d stream groups%s are open here already, the most allowed (a group ends with its last stream, or %v after its streams went idle); use one stream, or try again later", e.limit, from, e.idle)
}
