package httpserve

import (
	"context"
	"log/slog"
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// Outcome says how a response ended.
type Outcome string

// The outcomes of a response.
const (
	// OK: the whole response was written.
	OK Outcome = "ok"
	// Truncated: the file shrank while it was being sent. The body is
	// shorter than its Content-Length and the connection was closed after
	// the bytes that existed, so no client can take it for complete.
	Truncated Outcome = "truncated"
	// Aborted: the body was cut short for another reason (the client went
	// away or stopped reading past the write timeout, or the server was
	// stopped); the connection was closed.
	Aborted Outcome = "aborted"
)

// SendBuffered is the Response.SendMethod of a body that went through
// net/http's buffers rather than the engine: a TLS connection, a multipart
// range response, a directory listing, an error page.
const SendBuffered = "buffered"

// Response describes one finished request and its response.
type Response struct {
	// Method, Path (as received, unescaped) and Remote describe the request.
	Method, Path, Remote string
	// Status is the response's status code.
	Status int
	// ContentLength is the announced body length, or -1.
	ContentLength int64
	// BodyBytes counts the body bytes written.
	BodyBytes int64
	// EngineBytes counts the body bytes the zerocopy engine moved.
	EngineBytes int64
	// SendMethod names the method that moved the body: a zerocopy method
	// ("sendfile", "splice", "mmap", "readwrite") when the engine moved any
	// of it, SendBuffered when only net/http's buffers did, "" with no
	// body.
	SendMethod string
	// Send holds the engine's figures (summed over its calls) when it ran.
	Send zerocopy.Stats
	// Outcome says whether the response was complete.
	Outcome Outcome
	// Err is the error that cut the response short, if known.
	Err error
	// Duration is the time from the request's arrival at the handler to the
	// end of its response body.
	Duration time.Duration
}

// logAccess writes the access log line for r.
func logAccess(l *slog.Logger, r *Response) {
	attrs := []slog.Attr{
		slog.String("remote", r.Remote),
		slog.String("method", r.Method),
		slog.String("path", r.Path),
		slog.Int("status", r.Status),
		slog.Int64("bytes", r.BodyBytes),
		slog.String("send", r.SendMethod),
		slog.Duration("duration", r.Duration),
	}
	if r.EngineBytes > 0 {
		attrs = append(attrs, slog.Int64("syscalls", r.Send.Syscalls), slog.Bool("corked", r.Send.Corked), slog.Bool("lease", r.Send.Lease))
	}
	if r.Send.Fallbacks > 0 {
		attrs = append(attrs, slog.String("fallback", r.Send.FallbackReason))
	}
	if r.Outcome != OK {
		attrs = append(attrs, slog.String("outcome", string(r.Outcome)))
		if r.Err != nil {
			attrs = append(attrs, slog.String("error", r.Err.Error()))
		}
	}
	l.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}
