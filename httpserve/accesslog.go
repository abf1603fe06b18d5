package httpserve

import (
	"encoding/json"
	"net"
	"strconv"
	"time"
)

// AccessLogFormat is the format of Config.AccessLog's lines.
type AccessLogFormat int

const (
	// CombinedLog is nginx's default (and Apache's "combined"):
	//   remote - - [time] "request line" status bytes "referer" "user agent"
	// with the client's address without its port, the time as
	// 02/Jan/2006:15:04:05 -0700, the body bytes sent, "-" for an empty
	// field, and '"', '\' and bytes outside printable ASCII written as \xHH,
	// as nginx escapes them.
	CombinedLog AccessLogFormat = iota
	// JSONLog is one JSON object a line, durations in seconds.
	JSONLog
)

// writeAccess writes r's line to the access log.
func (s *Server) writeAccess(r *Response) {
	var b []byte
	switch s.cfg.AccessLogFormat {
	case JSONLog:
		b = jsonLine(r)
	default:
		b = combinedLine(make([]byte, 0, 256), r)
	}
	if _, err := s.cfg.AccessLog.Write(b); err != nil && !s.accessLogFailed.Swap(true) {
		s.log.Warn("the access log cannot be written; its lines are lost until it can", "error", err)
	} else if err == nil {
		s.accessLogFailed.Store(false)
	}
}

// combinedLine appends r's line in the combined format to b.
func combinedLine(b []byte, r *Response) []byte {
	host := r.Remote
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	b = appendField(b, host)
	b = append(b, " - - ["...)
	b = r.Start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	if r.Method == "" {
		b = append(b, '-') // a request the parser refused
	} else {
		b = appendEscaped(b, r.Method+" "+r.RequestURI+" "+r.Proto)
	}
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.BodyBytes, 10)
	b = append(b, ` "`...)
	b = appendField(b, r.Referer)
	b = append(b, `" "`...)
	b = appendField(b, r.UserAgent)
	b = append(b, "\"\n"...)
	return b
}

// appendField appends s escaped, or "-" if it is empty.
func appendField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendEscaped(b, s)
}

// appendEscaped appends s with '"', '\' and bytes outside printable ASCII
// as \xHH.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

// accessRecord is a JSONLog line.
type accessRecord struct {
	Time      string  `json:"time"`
	Remote    string  `json:"remote"`
	Method    string  `json:"method"`
	URI       string  `json:"uri"`
	Proto     string  `json:"proto"`
	Status    int     `json:"status"`
	Bytes     int64   `json:"bytes"`
	Referer   string  `json:"referer,omitempty"`
	UserAgent string  `json:"user_agent,omitempty"`
	DurationS float64 `json:"duration_s"`
	Send      string  `json:"send,omitempty"`
	Syscalls  int64   `json:"syscalls,omitempty"`
	Corked    bool    `json:"corked,omitempty"`
	Lease     bool    `json:"lease,omitempty"`
	Fallback  string  `json:"fallback,omitempty"`
	Outcome   string  `json:"outcome,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// jsonLine is r's JSONLog line.
func jsonLine(r *Response) []byte {
	rec := accessRecord{
		Time:      r.Start.Format(time.RFC3339Nano),
		Remote:    r.Remote,
		Method:    r.Method,
		URI:       r.RequestURI,
		Proto:     r.Proto,
		Status:    r.Status,
		Bytes:     r.BodyBytes,
		Referer:   r.Referer,
		UserAgent: r.UserAgent,
		DurationS: r.Duration.Seconds(),
		Send:      r.SendMethod,
	}
	if r.EngineBytes > 0 {
		rec.Syscalls, rec.Corked, rec.Lease = r.Send.Syscalls, r.Send.Corked, r.Send.Lease
	}
	if r.Send.Fallbacks > 0 {
		rec.Fallback = r.Send.FallbackReason
	}
	if r.Outcome != OK {
		rec.Outcome = string(r.Outcome)
		rec.Error = errString(r.Err)
	}
	b, _ := json.Marshal(rec) // strings and numbers only: cannot fail
	return append(b, '\n')
}
