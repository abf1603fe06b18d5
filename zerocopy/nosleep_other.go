//go:build !linux

package zerocopy

// noSleep is Linux's record of which sendfile calls cannot sleep
// (nosleep_linux.go); elsewhere every call goes through the scheduler.
type noSleep struct{}
