// Package httpserve is a static file server that puts the zerocopy engine
// under net/http: HTTP/1.1 GET and HEAD for the files of one directory, with
// bodies sent by sendfile (or any other zerocopy method) and the response
// header corked with the body.
//
// # How the engine gets the body
//
// net/http reaches zero copy only through io.ReaderFrom: http.ServeContent
// ends in io.CopyN(w, file, n), io.CopyN wraps the file in an
// io.LimitedReader, and the ResponseWriter's ReadFrom, once the header is
// written, calls ReadFrom on the connection the listener returned
// (w.conn.rwc.(io.ReaderFrom)) while it still counts the bytes against the
// Content-Length. Serve's listener returns connections whose ReadFrom calls
// zerocopy.SendFile for a file (an *os.File, or the handler's fileReader,
// which keeps the position itself so that ServeContent's seeks cost no
// system call), bare or in an io.LimitedReader, and copies anything else. Ranges, If-Range, ETag and Last-Modified, 304, 412
// and 416 and multipart/byteranges all stay http.ServeContent's; keep-alive
// stays net/http's.
//
// The handler wraps the ResponseWriter only to see the status and the body
// size, and the wrapper forwards ReadFrom: a wrapper that hid it would turn
// zero copy into a user-space copy without a sign (Caddy had this bug). The
// OnResponse hook and the access log say which method moved each body, and
// the tests assert it.
//
// # Corking
//
// net/http's ReadFrom copies the first 512 bytes of a body through its
// buffer (for content sniffing) unless the header has already gone out. For
// a 200 or 206 file body the wrapper therefore flushes the header as soon as
// ServeContent sets it, and the connection holds those bytes back instead of
// writing them. The body's ReadFrom passes them to SendFile as
// SendOptions.Header, so the engine corks the socket (TCP_CORK after
// clearing TCP_NODELAY; TCP_NOPUSH on the BSDs), writes the header, sends
// the whole body and uncorks, on every path. A 4 KiB file and its header
// leave in one segment instead of two. Responses without a file body (304,
// errors, listings) are not corked: net/http writes them in one write.
// Config.NoCork turns this off.
//
// # Truncation
//
// The engine takes the file's size at the start and reports a short send as
// zerocopy.ErrTruncated: a response goes on while every byte it announced
// exists, whoever appends to the file meanwhile, and only a truncation that
// removes announced bytes cuts it. With Config.Lease (a Linux read lease)
// any writer cuts it instead, as zerocopy.ErrLeaseBroken, and a process
// that truncates the file is released within milliseconds. conn.ReadFrom
// also checks the size before it starts, so a file that shrank even earlier
// still gets its header and the bytes that exist. Either way ReadFrom returns
// fewer bytes than the Content-Length and an error; net/http then does not
// reuse the connection (response.shouldReuseConnection compares the bytes
// written with the Content-Length) and closes it after those bytes, and the
// connection refuses any further write. The handler sees the short body,
// tells a truncation (the engine's error, or the file now smaller than at
// open) from a client gone away, logs it at Warn and counts it in
// zcopy_http_truncations_total.
//
// # Safety
//
// Files are opened through an os.Root on the directory, so no name, however
// spelled, leads out of it: ".." segments (net/http has already decoded
// "%2e%2e") are refused with 400 before any lookup, and the root refuses
// absolute names and symbolic links that point outside. Files are opened
// with O_NONBLOCK, as nginx does, so a FIFO cannot hold a thread; anything
// but a regular file or a directory gets 403. Each write has a deadline
// (pushed along as a send makes progress), so a stalled client is dropped
// and a slow one is not; the header has a read deadline, idle keep-alive
// connections time out, and the listener caps the connections served at
// once.
//
// TLS encrypts in user space, so HTTPS bodies are copied through the
// process and the engine is not used; the server speaks HTTP/1.1 only.
package httpserve
