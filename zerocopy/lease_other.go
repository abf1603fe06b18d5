//go:build !linux

package zerocopy

import "runtime"

type leaseHold struct{}

func acquireLease(t *transfer, onBreak func()) (*leaseHold, error) {
	return nil, errNoLeases
}

func (h *leaseHold) release(t *transfer) {}

var errNoLeases = leaseError("no lease: file leases are a Linux feature, not available on " + runtime.GOOS)

type leaseError string

func (e leaseError) Error() string { return string(e) }
