// Package reliability holds zcopy's reliability suite (issue 6): whole-binary
// tests that build cmd/zcopy once and drive it through faults (source files
// truncated, grown or replaced mid-transfer, processes killed, connections
// reset, slow and stalled peers, descriptor exhaustion), hostile input and
// load, on loopback and across a pair of network namespaces. Every test
// checks that no file reaches its final name short or wrong, and the suite
// writes its figures (transfers, bytes, faults, hostile inputs, peaks) to
// the test log and, with ZCOPY_RELIABILITY_REPORT=PATH, as JSON to PATH.
//
// go test -race ./reliability/ runs the short form; -soak (or ZCOPY_SOAK=1)
// repeats it for longer.
package reliability
