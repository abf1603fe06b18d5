//go:build race

package zerocopy

// raceEnabled: the race detector is on, and allocation counts mean nothing.
const raceEnabled = true
