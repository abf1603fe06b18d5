package httpserve

import (
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
	// RequestURI (the request-target as received), Proto ("HTTP/1.1"),
	// Referer and UserAgent are set when the server keeps an access log or
	// has an OnResponse hook.
	RequestURI, Proto, Referer, UserAgent string
	// Start is when the request reached the handler.
	Start time.Time
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
