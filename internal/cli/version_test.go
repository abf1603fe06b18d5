package cli

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionLine: zcopy --version words the build information: the
// module version, "(devel)" when there is none, the VCS revision and time
// of a build from a checkout, and the Go version (issue 18).
func TestVersionLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want []string
	}{
		{"released", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, []string{"zcopy v1.2.3,", "go1.26.8"}},
		{"devel", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: ""}}, []string{"zcopy (devel),", "go1.26.8"}},
		{"checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
		}}, []string{"zcopy (devel) (revision 0123456789abcdef of 2026-01-02T03:04:05Z, modified),"}},
		{"no-build-info", nil, []string{"zcopy (unknown),", runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := versionLine(tc.bi)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("versionLine = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}
