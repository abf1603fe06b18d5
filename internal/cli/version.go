package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// printVersion writes what zcopy --version says: the module's version
// ("(devel)" for a build from a checkout, whose VCS revision, time and
// modified state follow when the build recorded them), and the Go version
// and platform.
func printVersion(w io.Writer) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fmt.Fprintln(w, versionLine(bi))
}

// versionLine words bi (nil when the binary has no build information).
func versionLine(bi *debug.BuildInfo) string {
	v := "(unknown)"
	goVersion := runtime.Version()
	if bi != nil {
		v = bi.Main.Version
		if v == "" {
			v = "(devel)"
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		var rev, at, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			}
		}
		if rev != "" {
			v += fmt.Sprintf(" (revision %s", rev)
			if at != "" {
				v += " of " + at
			}
			v += modified + ")"
		}
	}
	return fmt.Sprintf("zcopy %s, built with %s for %s/%s", v, goVersion, runtime.GOOS, runtime.GOARCH)
}
