package zerocopy

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
// truncation (ErrTruncated, reported apart), or a method the platform
// lacks.
type FileError struct {
	Err error // what failed, naming the system call
}

func (e *FileError) Error() string { return e.Err.Error() }

// Unwrap returns the error of the system call.
func (e *FileError) Unwrap() error { return e.Err }
