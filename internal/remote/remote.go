package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// An Announcement is what a far end started over ssh prints on its
// standard output, as one line of JSON, once it listens: where to connect
// and the token to prove. It is read by Far.Announcement and nothing else.
type Announcement struct {
	// Zcopy is always 1: it tells the announcement from anything a login
	// script may print on standard output before it.
	Zcopy int `json:"zcopy"`
	// Port is the far end's TCP port.
	Port int `json:"port"`
	// Token is the fresh token the far end made for this transfer.
	Token string `json:"token,omitempty"`
	// Addr is the far host's address as ssh reached it (from
	// $SSH_CONNECTION), for when the name the user gave is an alias known
	// only to ssh's configuration.
	Addr string `json:"addr,omitempty"`
}

// Announce writes a's line on w; the far end calls it once it listens on
// port, with the address ssh reached it at, if it ran under sshd.
func Announce(w io.Writer, port int, token string) error {
	a := Announcement{Zcopy: 1, Port: port, Token: token}
	if f := strings.Fields(os.Getenv("SSH_CONNECTION")); len(f) == 4 {
		a.Addr = f[2]
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WatchStdin calls cancel once r (the far end's standard input, the pipe
// from sshd) ends or fails: sshd closes it when the local ssh goes away,
// for whatever reason, and the far end must then go too.
func WatchStdin(r io.Reader, cancel func()) {
	go func() {
		io.Copy(io.Discard, r)
		cancel()
	}()
}

// Config is how to run a far end.
type Config struct {
	// SSH is the ssh command and its options (default: "ssh").
	SSH []string
	// Login is the destination given to ssh: [user@]HOST.
	Login string
	// Command is the far end's argv; Join quotes it for the far shell.
	Command []string
	// Stderr receives the far end's standard error (and ssh's own
	// messages), each line prefixed with Prefix.
	Stderr io.Writer
	Prefix string
}

// Far is a far end running under ssh.
type Far struct {
	cfg    Config
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	done   chan struct{}  // closed when ssh has exited
	err    error          // cmd.Wait's, once done is closed
	ann    chan announced // the announcement, or why there is none
	stderr *lineWriter
}

// Start starts ssh with cfg's far command.
func Start(cfg Config) (*Far, error) {
	if strings.HasPrefix(cfg.Login, "-") {
		return nil, &Error{Op: "start", Login: cfg.Login, Err: errors.New("a host name cannot begin with -")}
	}
	ssh := cfg.SSH
	if len(ssh) == 0 {
		ssh = []string{"ssh"}
	}
	args := append(append([]string(nil), ssh[1:]...), "--", cfg.Login, Join(cfg.Command))
	cmd := exec.Command(ssh[0], args...)
	stderr := &lineWriter{w: cfg.Stderr, prefix: cfg.Prefix}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, &Error{Op: "start", Login: cfg.Login, Err: err}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, &Error{Op: "start", Login: cfg.Login, Err: err}
	}
	if err := cmd.Start(); err != nil {
		return nil, &Error{Op: "start", Login: cfg.Login, Err: err}
	}
	f := &Far{cfg: cfg, cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), done: make(chan struct{}), ann: make(chan announced, 1), stderr: stderr}
	go func() {
		// Whatever the far end prints after its announcement is
		// dropped, but read, so that it never blocks on a full pipe;
		// cmd.Wait must come after the last read of stdout.
		f.readStdout()
		f.err = cmd.Wait()
		stderr.flush()
		close(f.done)
	}()
	return f, nil
}

// announced carries the announcement (or why there is none) from the
// goroutine that reads stdout.
type announced struct {
	a   Announcement
	err error
}

func (f *Far) readStdout() {
	defer io.Copy(io.Discard, f.stdout)
	ch := f.ann
	// At most 64 KiB of lines from login scripts before the
	// announcement.
	for read := 0; read < 64<<10; {
		line, err := f.stdout.ReadBytes('\n')
		read += len(line)
		var a Announcement
		if json.Unmarshal(bytes.TrimSpace(line), &a) == nil && a.Zcopy == 1 && a.Port > 0 {
			ch <- announced{a: a}
			return
		}
		if err != nil {
			ch <- announced{err: errNoAnnouncement}
			return
		}
	}
	ch <- announced{err: errors.New("no announcement in the first 64 KiB of its output")}
}

var errNoAnnouncement = errors.New("it ended before it was ready")

// Announcement waits for the far end's announcement. If the far end
// exits first, the error says with which status (an *Error).
func (f *Far) Announcement(ctx context.Context) (Announcement, error) {
	select {
	case r := <-f.ann:
		if r.err == nil {
			return r.a, nil
		}
		if r.err == errNoAnnouncement {
			<-f.done
			return Announcement{}, f.exitError("announce", errNoAnnouncement)
		}
		return Announcement{}, &Error{Op: "announce", Login: f.cfg.Login, Code: -1, Err: r.err}
	case <-ctx.Done():
		f.Close()
		return Announcement{}, &Error{Op: "announce", Login: f.cfg.Login, Code: -1, Err: ctx.Err()}
	}
}

// Wait waits for the far end to exit on its own, for at most grace; then
// it closes the far end's standard input, which ends it, and after
// another grace kills ssh. It returns the far end's exit status: nil for
// 0, else an *Error with the status (255 is ssh's own failure).
func (f *Far) Wait(grace time.Duration) error {
	select {
	case <-f.done:
	case <-time.After(grace):
		f.Close()
	}
	if f.err == nil {
		return nil
	}
	return f.exitError("exit", nil)
}

// Close ends the far end: it closes its standard input, so that sshd
// hands it an end of file, waits up to 5 seconds for ssh to exit, then
// kills ssh. It is safe to call more than once and after the far end
// exited.
func (f *Far) Close() {
	f.stdin.Close()
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		f.cmd.Process.Kill()
		<-f.done
	}
}

// exitError describes how ssh ended, once done is closed.
func (f *Far) exitError(op string, err error) *Error {
	e := &Error{Op: op, Login: f.cfg.Login, Code: -1, Err: err}
	var ee *exec.ExitError
	if errors.As(f.err, &ee) {
		e.Code = ee.ExitCode()
	} else if f.err != nil && e.Err == nil {
		e.Err = f.err
	}
	return e
}

// Error is a far end's failure: at Op ("start", "announce" or "exit"), on
// Login, with ssh's exit status Code (-1 if none: it was killed, or never
// ran).
type Error struct {
	Op    string
	Login string
	Code  int
	Err   error
}

func (e *Error) Error() string {
	var s string
	switch {
	case e.Op == "start":
		s = "cannot run ssh"
	case e.Code == 255:
		s = fmt.Sprintf("ssh to %s failed (exit status 255; its message is above)", e.Login)
	case e.Code == 127:
		s = fmt.Sprintf("the far end on %s was not found (exit status 127): install zcopy on its PATH or name it with --remote-zcopy PATH", e.Login)
	case e.Code == 126:
		s = fmt.Sprintf("the far end on %s could not be run (exit status 126): check --remote-zcopy", e.Login)
	case e.Code >= 0:
		s = fmt.Sprintf("the far end on %s exited with status %d", e.Login, e.Code)
	default:
		s = fmt.Sprintf("the far end on %s", e.Login)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// lineWriter writes what it is given to w a line at a time, each line
// prefixed; it is ssh's stderr (exec copies into it from one goroutine).
type lineWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, bytes.TrimRight(l.buf[:i], "\r"))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// flush writes a last line that had no newline.
func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf)
		l.buf = nil
	}
}
