package cli

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// checkAddr reads an address as users type it, for flag (--listen, --to,
// --from) and returns it in the form net.Listen and net.Dial take, with a
// notice to print when it was read as more than it says, or why it is
// wrong, in words that show the form to write (issue 18: Go's own "too
// many colons in address" reached the user). A bare port is the port on
// every address for a listener; a dialer needs a host.
func checkAddr(flag, s string) (addr, notice string, err error) {
	if isPort(s) {
		if flag != "--listen" {
			return "", "", fmt.Errorf("%s %s names no host: give HOST:%s (such as 127.0.0.1:%s)", flag, s, s, s)
		}
		return ":" + s, fmt.Sprintf("--listen %s means port %s on all addresses (give 127.0.0.1:%s for this host only)", s, s, s), nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Count(s, ":") > 1 && !strings.Contains(s, "[") && isPort(s[i+1:]) {
			if ip := net.ParseIP(s[:i]); ip != nil && ip.To4() == nil {
				return "", "", fmt.Errorf("%s %s: an IPv6 address takes brackets before its port: write [%s]:%s", flag, s, s[:i], s[i+1:])
			}
		}
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			return "", "", fmt.Errorf("%s %s names no port: write %s:PORT (port 0 picks a free one)", flag, s, s)
		}
		if !strings.Contains(s, ":") || strings.Count(s, ":") > 1 && !strings.Contains(s, "]") {
			return "", "", fmt.Errorf("%s %s names no port: write HOST:PORT (such as 127.0.0.1:8000, or [::1]:8000 for IPv6; port 0 picks a free one)", flag, s)
		}
		return "", "", fmt.Errorf("%s %s is not HOST:PORT (such as 127.0.0.1:8000, or [::1]:8000 for IPv6)", flag, s)
	}
	if port == "" {
		return "", "", fmt.Errorf("%s %s names no port: write %sPORT (port 0 picks a free one)", flag, s, s)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", "", fmt.Errorf("%s %s: %q is not a port (a number from 0 to 65535)", flag, s, port)
	}
	return s, "", nil
}

// isPort reports whether s is a decimal port number.
func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535 && s != "" && s[0] != '+' && s[0] != '-'
}

// netError words a failed listen or dial without Go's wording of it
// ("listen tcp 127.0.0.1:80: bind: address already in use" says "cannot
// listen on 127.0.0.1:80: address already in use").
func netError(err error) error {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Err == nil {
		return err
	}
	var why error = oe.Err
	var se interface{ Unwrap() error }
	if errors.As(oe.Err, &se) && se.Unwrap() != nil { // *os.SyscallError: drop "bind: "
		why = se.Unwrap()
	}
	addr := oe.Addr
	if addr == nil {
		addr = oe.Source
	}
	where := ""
	if addr != nil {
		where = " " + addr.String()
	}
	switch oe.Op {
	case "listen":
		return fmt.Errorf("cannot listen on%s: %w", where, why)
	case "dial":
		return fmt.Errorf("cannot connect to%s: %w", where, why)
	}
	return err
}

// addrFlag is an address flag's name and value.
type addrFlag struct {
	flag string
	p    *string
}

// checkAddrFlags checks and rewrites the address flags given (see
// checkAddr), printing checkAddr's notices unless quiet. ok is false when
// the command should return code.
func checkAddrFlags(e *env, c *command, quiet bool, flags ...addrFlag) (code int, ok bool) {
	for _, a := range flags {
		if *a.p == "" {
			continue
		}
		addr, notice, err := checkAddr(a.flag, *a.p)
		if err != nil {
			return usageError(e, c, "%v", err), false
		}
		if notice != "" && !quiet {
			fmt.Fprintf(e.stderr, "zcopy %s: %s\n", c.name, notice)
		}
		*a.p = addr
	}
	return 0, true
}
