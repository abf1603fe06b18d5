package zerocopy

import "errors"

// ErrTruncated reports that the source file ended before the bytes asked
// for, during a send: it shrank after SendFile took its size, or a mapping
// of it lost its pages. Fewer bytes than asked were moved, and they must
// not pass for the whole.
var ErrTruncated = errors.New("file was truncated during the transfer")

// ErrLeaseBroken reports that another process opened the file for writing,
// or truncated it, while SendFile held a read lease on it
// (SendOptions.Lease): the send stopped, so that what was sent cannot mix
// the file's contents from before and after the write.
var ErrLeaseBroken = errors.New("another process opened the file for writing or truncated it (read lease broken)")

// ErrRange reports a range that the file, as SendFile found it when it
// started, does not hold: an offset or an end past its size. Nothing was
// sent. It is the caller's range that is wrong, or the file shrank since
// the caller last looked.
var ErrRange = errors.New("the range is outside the file")

// Error is the error SendFile and ReceiveFile return, as *net.OpError is
// for the net package: what was being done, to which file, by which
// method, and the underlying error, which errors.Is and errors.As see
// through Unwrap (ErrTruncated, ErrLeaseBroken, ErrRange, a context's
// error, errors.ErrUnsupported, a *FileError, an *os.SyscallError of the
// peer's socket).
type Error struct {
	Op     string // "send" or "receive"
	Path   string // the file's name, as os.File.Name reports it
	Method Method // the method that was running (Auto if none had started)
	Err    error
}

func (e *Error) Error() string {
	s := e.Op + " " + e.Path
	if e.Method != Auto {
		s += " by " + e.Method.String()
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// A FileError is a failure of the file that SendFile reads, as opposed to
// the peer it writes to: a read, stat, mapping or splice of the file that
// failed, a file that cannot be mapped or spliced at all when that method
// was asked for, or a sendfile(2) after which the file could not be read
// at the offset where it stopped. The peer is then still in step with
// what SendFile reported sending (Stats.Bytes), so a caller that sends
// many files over one connection can give up on this one and go on.
//
// Find it with errors.As. An error of SendFile that holds no FileError is
// the peer's (the connection failed or timed out), the context's, a
// truncation or broken lease (ErrTruncated, ErrLeaseBroken), a bad range
// (ErrRange), or a method the platform lacks.
type FileError struct {
	Err error // what failed, naming the system call
}

func (e *FileError) Error() string { return e.Err.Error() }

// Unwrap returns the error of the system call.
func (e *FileError) Unwrap() error { return e.Err }
