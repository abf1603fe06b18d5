// Package logfile is a log file that can be reopened by name, as logrotate
// expects of a server on SIGHUP: after the file is renamed away, Reopen
// makes the writes go to a new file under the original name.
package logfile

import (
	"fmt"
	"os"
	"sync"
)

// File is an append-only log file. Its methods may be called from several
// goroutines; each Write reaches the file whole, in one write(2) on a file
// opened with O_APPEND, so lines from concurrent writers do not interleave.
type File struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// Open opens (creating, mode 0644) path for appending.
func Open(path string) (*File, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("logfile: %w", err)
	}
	return f, nil
}

// Write appends p.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path again and closes the previous file once the new
// one is open; if the path cannot be opened, writes go on to the previous
// file and the error is returned.
func (l *File) Reopen() error {
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Path returns the file's name.
func (l *File) Path() string { return l.path }

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
