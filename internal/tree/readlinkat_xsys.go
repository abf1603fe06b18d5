//go:build linux || darwin || freebsd || netbsd || openbsd

package tree

import "golang.org/x/sys/unix"

func readlinkat(dfd int, name string, b []byte) (int, error) { return unix.Readlinkat(dfd, name, b) }
