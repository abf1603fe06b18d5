//go:build !unix

package httpserve

// openFilesShare bounds the file cache where there is no RLIMIT_NOFILE.
func openFilesShare() int { return DefaultOpenFiles }
