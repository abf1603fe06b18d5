// Package part is the one owner of every file zcopy receives: the part file
// (NAME.zcopy-part, or NAME.zcopy-ranges for a file arriving over several
// streams) through which the bytes arrive, and the only thing that may be
// continued by a resume or renamed to NAME.
//
// The rules it keeps, whichever receive path uses it (raw, framed, ranged,
// whole small files):
//
//   - A part is opened relative to an open directory, one name long, with
//     O_NOFOLLOW: a symlink planted under the part's name is removed, never
//     written through. A fresh part is created with O_EXCL. A part that is
//     not continued is removed and made anew, never truncated in place, so
//     a hard link planted under its name cannot lead the bytes elsewhere;
//     one that is continued must have one link and belong to this user.
//   - A part is held under an exclusive lock for as long as it is written
//     (an open file description lock on Linux, which NFS honours; flock(2)
//     on the BSDs and macOS), so two transfers (in one process or several)
//     never write one name: the second gets ErrBusy, also when the first
//     receives the file in ranges and the second whole, or the reverse.
//     After taking the lock, the holder checks that the descriptor is still
//     the file under the name (another holder may have placed it in
//     between) and starts again if not.
//   - A part records the version of the source file it holds the start of
//     (Version: size, mtime and the sender's file identity) in an extended
//     attribute, removed when the file is placed. A resume continues a part
//     only when the version matches; otherwise it starts over and says why.
//     Where the file system keeps no user extended attributes, no part can
//     be trusted, and every resume starts over.
//   - Place renames the part to its final name while the lock is held, and
//     does not replace a file that appeared meanwhile unless asked to
//     (renameat2 RENAME_NOREPLACE on Linux, else link and unlink; on file
//     systems with neither, a look and a rename, which is not atomic).
//
// Where the system has no extended attributes in golang.org/x/sys/unix
// (OpenBSD, DragonFly), no part is continued, which Versioning says. On
// other systems (Windows, Solaris, illumos, AIX...), parts are made through
// an os.Root with O_EXCL, and neither locked nor continued.
package part

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Suffixes of part files. Names that end in either are reserved: a
// receiver refuses to make a file under such a name.
const (
	// Suffix marks a file that is still arriving (or was interrupted):
	// the bytes from its start, so a resume can continue after them.
	Suffix = ".zcopy-part"
	// RangesSuffix marks a file arriving in ranges over several streams:
	// it has holes until it is complete, and is never resumed.
	RangesSuffix = ".zcopy-ranges"
)

// sibling returns the other part name of the same final name, or "".
func sibling(name string) string {
	switch {
	case strings.HasSuffix(name, Suffix):
		return strings.TrimSuffix(name, Suffix) + RangesSuffix
	case strings.HasSuffix(name, RangesSuffix):
		return strings.TrimSuffix(name, RangesSuffix) + Suffix
	}
	return ""
}

// Version names one version of a source file: what the sender listed.
// The zero Version is "unknown": a part of an unknown version is never
// continued.
type Version struct {
	Size   int64  // bytes
	MTime  int64  // Unix nanoseconds
	Source uint64 // the sender's file identity (proto.Entry.Source)
}

// xattrName is the extended attribute that holds a part's Version.
const xattrName = "user.zcopy.version"

func (v Version) encode() []byte {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, uint64(v.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(v.MTime))
	return binary.BigEndian.AppendUint64(b, v.Source)
}

func decodeVersion(b []byte) (Version, bool) {
	if len(b) != 24 {
		return Version{}, false
	}
	return Version{
		Size:   int64(binary.BigEndian.Uint64(b)),
		MTime:  int64(binary.BigEndian.Uint64(b[8:])),
		Source: binary.BigEndian.Uint64(b[16:]),
	}, true
}

// ErrBusy reports a part that another session holds: the name is being
// received by someone else right now.
var ErrBusy = errors.New("another transfer is receiving this name right now")

// ErrExist reports a final name that appeared while its part was being
// written: it is not replaced unless Place is asked to replace.
var ErrExist = errors.New("appeared while it was being received; not replaced")

// Error is what the package's functions return: the operation, the name it
// was about and the cause, which errors.Is matches against ErrBusy,
// ErrExist or an errno.
type Error struct {
	Op   string // "open", "lock", "version", "place", "discard"
	Name string // the part's name, relative to its directory
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.Name, e.Err) }

func (e *Error) Unwrap() error { return e.Err }
