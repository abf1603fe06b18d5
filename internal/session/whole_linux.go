package session

import (
	"io"
	"os"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
	"golang.org/x/sys/unix"
)

// placeWhole writes a small file's body into an unnamed file in d's
// directory (O_TMPFILE), gives it its mode and times, and links it under
// its name. The file appears complete or not at all, a crash leaves
// nothing behind, and it costs openat, pwrite, fchmod, utimensat, linkat
// and close: the named part's rename, and the lookups os.Root adds to
// open and rename, are gone. Where the file system has no O_TMPFILE, or
// the kernel (before 6.10) lets only CAP_DAC_READ_SEARCH link a
// descriptor, it falls back to placeNamed from then on. A name that was
// taken after the plan (linkat's EEXIST) is replaced only with Overwrite,
// through placeNamed, since only rename replaces; without it the file
// fails with part.ErrExist.
func (p *placer) placeWhole(d *os.Root, base string, e *proto.Entry, body []byte) error {
	dir, err := p.dirFile(d)
	if err != nil {
		return err
	}
	if p.noTmpfile.Load() || testHookNoTmpfile {
		return placeNamed(dir.pd, base, e, body, p.fsync, p.overwrite)
	}
	dfd := dir.pd.Fd()
	// Made with its mode when the umask leaves that mode alone (and no
	// default ACL in the directory overrides the umask), saving a fchmod.
	mode, chmod := uint32(0o600), true
	if p.umaskKnown && !dir.acl && e.Mode&^0o777 == 0 && e.Mode&p.umask == 0 {
		mode, chmod = e.Mode, false
	}
	fd, err := openat(dfd, ".", unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, mode)
	switch err {
	case nil:
	case unix.EOPNOTSUPP, unix.EISDIR, unix.EINVAL:
		p.noTmpfile.Store(true)
		return placeNamed(dir.pd, base, e, body, p.fsync, p.overwrite)
	default:
		return &os.PathError{Op: "open", Path: base, Err: err}
	}
	defer unix.Close(fd)
	op, err := "write", pwriteAll(fd, body)
	if err == nil && chmod {
		op, err = "chmod", unix.Fchmod(fd, placedMode(e.Mode))
	}
	if err == nil && p.fsync {
		op, err = "fsync", unix.Fsync(fd)
	}
	if err == nil {
		ts := unix.NsecToTimespec(e.MTime)
		op, err = "utimensat", unix.UtimesNanoAt(fd, "", []unix.Timespec{ts, ts}, unix.AT_EMPTY_PATH)
	}
	if err == nil {
		op, err = "linkat", unix.Linkat(fd, "", dfd, base, unix.AT_EMPTY_PATH)
		switch err {
		case unix.ENOENT, unix.EPERM, unix.EOPNOTSUPP:
			p.noTmpfile.Store(true)
			return placeNamed(dir.pd, base, e, body, p.fsync, p.overwrite)
		case unix.EEXIST:
			if !p.overwrite {
				return &part.Error{Op: "place", Name: base, Err: part.ErrExist}
			}
			return placeNamed(dir.pd, base, e, body, p.fsync, p.overwrite)
		}
	}
	if err != nil {
		return &os.PathError{Op: op, Path: base, Err: err}
	}
	return nil
}

// hasDefaultACL reports whether the directory has a default ACL, which
// decides the modes of new files instead of the umask.
func hasDefaultACL(d *part.Dir) bool {
	_, err := unix.Fgetxattr(d.Fd(), "system.posix_acl_default", nil)
	return err == nil || err == unix.ERANGE
}

// pwriteAll writes b at the start of the file fd.
func pwriteAll(fd int, b []byte) error {
	var off int64
	for len(b) > 0 {
		n, err := ignoringEINTR(func() (int, error) { return unix.Pwrite(fd, b, off) })
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}
