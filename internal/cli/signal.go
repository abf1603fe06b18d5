package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Interrupted is the cause (context.Cause) of the context that
// SignalContext cancels: the signal that ended the command.
type Interrupted struct{ Signal os.Signal }

func (i *Interrupted) Error() string { return "interrupted by " + signalName(i.Signal) }

// ExitCode is the shell's status for a process ended by the signal:
// 128 + its number (130 for SIGINT, 143 for SIGTERM).
func (i *Interrupted) ExitCode() int {
	if s, ok := i.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitFail
}

// SignalContext returns a context that is cancelled on the first SIGINT
// or SIGTERM, with an *Interrupted cause, for Main. Later signals are
// caught too (they do not kill the process): a --keep server ends its
// grace period at once on the second (watchSecond). stop lets go of the
// signals.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(&Interrupted{Signal: s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interrupted returns the signal that ended e's context, or nil.
func interrupted(e *env) *Interrupted {
	var i *Interrupted
	if e.ctx.Err() != nil && errors.As(context.Cause(e.ctx), &i) {
		return i
	}
	return nil
}

// watchSecond calls now on the second SIGINT or SIGTERM (the first
// cancels e.ctx, in SignalContext) after saying so on stderr. It returns
// the function that stops watching.
func watchSecond(e *env, c *command, now func()) (stop func()) {
	term := make(chan os.Signal, 2)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	seen := 0
	if e.ctx.Err() != nil {
		seen = 1 // the first came before we watched
	}
	go func() {
		for {
			select {
			case <-term:
				if seen++; seen == 2 {
					fmt.Fprintf(e.stderr, "zcopy %s: second signal: cutting the transfers still in flight now\n", c.name)
					now()
					return
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(term)
		close(done)
	}
}

// signalName is SIGINT for os.Interrupt, and so on.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
