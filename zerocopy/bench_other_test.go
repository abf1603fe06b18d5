//go:build !unix

package zerocopy

// benchPeer exists on Unix only, where the benchmarks run.
func benchPeer(role string) int { return 2 }
