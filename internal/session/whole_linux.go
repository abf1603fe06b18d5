package session

import (
	"io"
	"os"
	"strconv"
	"strings"

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
// descriptor, it falls back to placeNamed from then on; so does a file
// whose name is taken (with --overwrite), since only rename replaces.
func (p *placer) placeWhole(d *os.Root, base string, e *proto.Entry, body []byte) error {
	if p.noTmpfile.Load() || testHookNoTmpfile {
		return placeNamed(d, base, e, body, p.fsync)
	}
	dir, err := p.dirFile(d)
	if err != nil {
		return err
	}
	dfd := int(dir.fd)
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
		return placeNamed(d, base, e, body, p.fsync)
	default:
		return &os.PathError{Op: "open", Path: base, Err: err}
	}
	defer unix.Close(fd)
	op, err := "write", pwriteAll(fd, body)
	if err == nil && chmod {
		op, err = "chmod", unix.Fchmod(fd, e.Mode)
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
			fallthrough
		case unix.EEXIST:
			return placeNamed(d, base, e, body, p.fsync)
		}
	}
	if err != nil {
		return &os.PathError{Op: op, Path: base, Err: err}
	}
	return nil
}

// dirFile returns the directory d is rooted at, opened once (through d, so
// it is the directory d confines to) and closed by wait.
func (p *placer) dirFile(d *os.Root) (*placeDir, error) {
	p.dirMu.Lock()
	defer p.dirMu.Unlock()
	if pd, ok := p.dirs[d]; ok {
		return pd, nil
	}
	f, err := d.Open(".")
	if err != nil {
		return nil, err
	}
	pd := &placeDir{f: f, fd: int(f.Fd())}
	// A default ACL decides the modes of new files instead of the umask.
	_, err = unix.Fgetxattr(pd.fd, "system.posix_acl_default", nil)
	pd.acl = err == nil || err == unix.ERANGE
	if p.dirs == nil {
		p.dirs = map[*os.Root]*placeDir{}
	}
	p.dirs[d] = pd
	return pd, nil
}

// readUmask returns the process's file mode creation mask from
// /proc/self/status (Linux 4.7 and later); ok is false where it cannot be
// read without changing it.
func readUmask() (umask uint32, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return uint32(u), err == nil
		}
	}
	return 0, false
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
