//go:build !unix && !windows

package bench

import "os"

// selfUsage is unknown on this platform.
func selfUsage() usage { return usage{} }

// exitedUsage is unknown on this platform.
func exitedUsage(*os.ProcessState) usage { return usage{} }
