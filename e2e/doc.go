// Package e2e holds zcopy's whole-binary tests: they build cmd/zcopy once
// and drive it as a user would, against real peers such as nc.
package e2e
