package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// child is a running worker process.
type child struct {
	role   string
	cmd    *exec.Cmd
	dec    *json.Decoder
	stdout io.ReadCloser
	stderr syncBuffer
}

// startChild runs the worker command with spec's arguments, confined to
// cpu unless it is negative. The process is killed if ctx is done before it
// exits.
func startChild(ctx context.Context, command, env []string, spec workerSpec, cpu int) (*child, error) {
	if len(command) == 0 {
		return nil, errors.New("no worker command configured")
	}
	argv := append(append([]string(nil), command[1:]...), spec.args()...)
	c := &child{role: spec.role, cmd: exec.CommandContext(ctx, command[0], argv...)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &c.stderr
	c.cmd.WaitDelay = 5 * time.Second
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.stdout = out
	c.dec = json.NewDecoder(out)
	if err := startOn(c.cmd, cpu); err != nil {
		return nil, fmt.Errorf("start the %s worker: %w", spec.role, err)
	}
	return c, nil
}

// readLine returns the worker's next line. A line with an error, or no
// line at all, is an error.
func (c *child) readLine() (workerLine, error) {
	var l workerLine
	if err := c.dec.Decode(&l); err != nil {
		if err == io.EOF {
			err = errors.New("it exited without a report")
		}
		return l, err
	}
	if l.Error != "" {
		return l, errors.New(l.Error)
	}
	return l, nil
}

// listenAddr returns the address a receiver worker listens on. On failure
// the worker is killed.
func (c *child) listenAddr() (string, error) {
	l, err := c.readLine()
	if err == nil && l.Listen == "" {
		err = errors.New("its first line has no address")
	}
	if err != nil {
		c.kill()
		return "", c.failure(err)
	}
	return l.Listen, nil
}

// wait reads the worker's result, waits for it to exit and fills in the
// kernel's accounting of the finished process.
func (c *child) wait() (sideFigures, error) {
	l, err := c.readLine()
	if err == nil && l.Result == nil {
		err = errors.New("its report has no result")
	}
	io.Copy(io.Discard, c.stdout)
	werr := c.cmd.Wait()
	if err == nil {
		err = werr
	}
	if err != nil {
		return sideFigures{}, c.failure(err)
	}
	fig := *l.Result
	fig.Usage = exitedUsage(c.cmd.ProcessState).sub(fig.Start)
	return fig, nil
}

// kill ends the worker and reaps it.
func (c *child) kill() {
	if c.cmd.Process != nil {
		c.cmd.Process.Kill()
	}
	io.Copy(io.Discard, c.stdout)
	c.cmd.Wait()
}

// failure wraps err with what the worker said on stderr.
func (c *child) failure(err error) error {
	msg := strings.TrimSpace(c.stderr.String())
	if msg != "" {
		return fmt.Errorf("%s worker: %w (stderr: %s)", c.role, err, msg)
	}
	return fmt.Errorf("%s worker: %w", c.role, err)
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine exec starts
// and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write keeps p, up to 64 KiB in all.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 64<<10 {
		return len(p), nil // keep the start; a runaway worker is not our log
	}
	return b.b.Write(p)
}

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
