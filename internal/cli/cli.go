// Package cli is zcopy's command line: it parses flags and wires them to the
// packages that do the work. Main is the whole program, so tests can run it
// in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes. exitStatuses words them for --help; README lists them too.
const (
	exitOK      = 0
	exitFail    = 1  // the operation failed
	exitUsage   = 2  // the command line was wrong
	exitPartial = 23 // a transfer ran to its end, but not everything named arrived (rsync's code)
)

// exitStatuses is the part of send's and recv's help that says what their
// exit statuses mean.
const exitStatuses = `Exit status: 0 when everything named arrived intact (files already there
with the same size and mtime count as arrived); 23 when the transfer ran
to its end but some entries did not arrive (each is named on stderr, as it
happens and again at the end: left out by the sender, refused or failed
at the receiver); 1 when the transfer itself failed (a connection, the
handshake or the protocol broke; what was placed before that is complete,
the rest is missing); 2 when the command line was wrong; 128 + the
signal's number when a signal ended it: 130 for SIGINT (Ctrl-C), 143 for
SIGTERM (the end interrupted says what it kept; the same command resumes).
Both ends exit with the same status for the same transfer, except that
the end that was not interrupted exits 1, and that a server under --keep
exits 0 after a clean shutdown (1 if transfers in flight were cut) and
logs each transfer's outcome.`

// env is what a command sees of the process.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand.
type command struct {
	name     string
	order    int    // position in the help listing
	synopsis string // one usage line, without "zcopy "
	summary  string // one sentence for the command list
	help     string // what the command does, for --help
	run      func(e *env, args []string) int
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// Main runs zcopy with args (without the program name) and returns the exit
// status. ctx is cancelled on SIGINT or SIGTERM by the caller.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run(e, []string{"--help"})
			}
		}
		usage(stdout)
		return exitOK
	case "version", "-version", "--version":
		printVersion(stdout)
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "zcopy: unknown command %q\n\n", name)
		usage(stderr)
		return exitUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprint(w, "zcopy moves file data over TCP with as few copies, system calls and\ncontext switches as the kernel allows, and measures what each method costs.\n\nUsage:\n")
	list := make([]*command, 0, len(commands))
	for _, c := range commands {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].order < list[j].order })
	for _, c := range list {
		fmt.Fprintf(w, "  zcopy %s\n        %s\n", c.synopsis, c.summary)
	}
	fmt.Fprint(w, "\nRun 'zcopy COMMAND --help' for a command's flags, 'zcopy --version' for the version.\n")
}

// newFlagSet makes a FlagSet that reports errors through parse rather than
// printing them itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args for command c, accepting flags before, between and after
// positional arguments ("--" ends the flags). On --help it prints the
// command's help to stdout; on a bad flag it prints the error to stderr. ok
// is false when the command should return code.
func parse(e *env, c *command, fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printHelp(e.stdout, c, fs)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, usageError(e, c, "%v", err), false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError reports a command-line mistake and returns exitUsage.
func usageError(e *env, c *command, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "zcopy %s: %s\nusage: zcopy %s\nRun 'zcopy %s --help' for more.\n", c.name, fmt.Sprintf(format, a...), c.synopsis, c.name)
	return exitUsage
}

// fail reports a failed operation and returns exitFail, or 128+N if
// signal N ended it (see Interrupted).
func fail(e *env, c *command, err error) int {
	if i := interrupted(e); i != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, i) {
			fmt.Fprintf(e.stderr, "zcopy %s: %v (exit status %d)\n", c.name, i, i.ExitCode())
		} else {
			fmt.Fprintf(e.stderr, "zcopy %s: %v (exit status %d): %v\n", c.name, i, i.ExitCode(), plain(err))
		}
		return i.ExitCode()
	}
	fmt.Fprintf(e.stderr, "zcopy %s: %v\n", c.name, plain(err))
	return exitFail
}

func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: zcopy %s\n\n%s\n", c.synopsis, strings.TrimSpace(c.help))
	fmt.Fprint(w, "\nFlags (-flag and --flag are the same):\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, use := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n        %s", strings.ReplaceAll(use, "\n", "\n        "))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
