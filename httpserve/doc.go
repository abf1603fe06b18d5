// Package httpserve is a static file server that puts the zerocopy engine
// under HTTP/1.1: GET and HEAD for the files of one directory, with bodies
// sent by sendfile (or any other zerocopy method; a small file read and
// written together with its header in one write) and the response header
// corked with the body.
//
// # Two HTTP stacks, one set of semantics
//
// Plain HTTP is served by fasthttp (fastpath.go), HTTPS by net/http
// (handler.go). Neither decides anything: both read a request into a
// request, and decide (answer.go) turns it into an answer: the method
// check, the path (paths.go), directories (a redirect, index.html or a
// listing), the preconditions of RFC 9110 section 13 (preconditions.go)
// and the Range (ranges.go), with multipart/byteranges written by
// mime/multipart. The differential suite against nginx checks that both
// stacks answer alike (conformance_linux_test.go).
//
// # The open-file cache
//
// Regular files stay open between requests with their representation
// (size, ETag, Last-Modified, media type, rendered once per version): a hit
// costs one lstat of the name through the os.Root, which both revalidates
// the version (device, inode, size, modification and change times) and
// re-checks the path, so the first request after a file is replaced,
// written, truncated or deleted, or a directory on its path swapped, sees
// the change (filecache.go). Bodies are always read from the descriptor.
//
// # How the engine gets the body
//
// On fasthttp a file body is a body stream with a WriteTo (fastBody):
// fasthttp writes the header into its buffer and flushes it at once
// (ImmediateHeaderFlush) into the connection, which holds it back, and
// WriteTo hands the held header, the file's ranges (and a multipart body's
// part headers) to zerocopy.SendFile.
//
// On net/http the engine is reached through io.ReaderFrom: the handler
// writes each range with ReadFrom of an io.LimitedReader over a fileReader;
// the ResponseWriter's ReadFrom, once the header is written, calls ReadFrom
// on the connection the listener returned (w.conn.rwc.(io.ReaderFrom))
// while it still counts the bytes against the Content-Length, and the
// connection's ReadFrom calls zerocopy.SendFile. The handler's wrapper
// forwards ReadFrom: a wrapper that hid it would turn zero copy into a
// user-space copy without a sign (Caddy had this bug). Over TLS the bytes
// are copied, since TLS encrypts in user space. The OnResponse hook and the
// access log say which method moved each body, and the tests assert it.
//
// # Corking
//
// The connection holds the response header back and passes it to SendFile
// as SendOptions.Header, so the engine corks the socket (TCP_CORK after
// clearing TCP_NODELAY; TCP_NOPUSH on the BSDs), writes the header, sends
// the whole body and uncorks, or for a body of at most zerocopy.GatherMax
// bytes reads it and writes header and body in one write. A 4 KiB file and
// its header leave in one segment instead of two. Responses without a file
// body (304, errors, listings) are written in one write. Config.NoCork
// turns corking off.
//
// # Truncation
//
// The engine takes the file's size at the start and reports a short send as
// zerocopy.ErrTruncated: a response goes on while every byte it announced
// exists, whoever appends to the file meanwhile, and only a truncation that
// removes announced bytes cuts it. With Config.Lease (a Linux read lease)
// any writer cuts it instead, as zerocopy.ErrLeaseBroken, and a process
// that truncates the file is released within milliseconds. The connection
// also checks the size before it starts (the cache's stat, or an fstat), so
// a file that shrank even earlier still gets its header and the bytes that
// exist. Either way the send returns fewer bytes than the Content-Length
// and an error, and the connection is closed after those bytes (fasthttp
// closes it on the body stream's error; net/http because the bytes written
// fall short of the Content-Length), and it refuses any further write. The
// server tells a truncation (the engine's error, or the file now smaller
// than at open) from a client gone away, logs it at Warn and counts it in
// zcopy_http_truncations_total.
//
// A truncation to a size that is not 0 can still tear a body of full
// length: the kernel zeroes in place the rest of the page-cache folio that
// straddles the new end (mm/truncate.c, truncate_inode_partial_folio), and
// pages sendfile already handed to the socket are references, not copies,
// so they may leave as zeros. nginx's bodies share this. Config.Lease
// narrows the gap (the truncating process waits while the body is being
// sent, and the response is cut) but does not close it: pages still queued
// in socket buffers when the lease is given back can be zeroed after.
//
// # Safety
//
// Files are opened through an os.Root on the directory, so no name, however
// spelled, leads out of it: ".." segments (after percent-decoding, so
// "%2e%2e" too) are refused with 400 before any lookup, and the root refuses
// absolute names and symbolic links that point outside. Files are opened
// with O_NONBLOCK, as nginx does, so a FIFO cannot hold a thread; anything
// but a regular file or a directory gets 403. Each write has a deadline
// (pushed along as a send makes progress), so a stalled client is dropped
// and a slow one is not; the header has a read deadline, idle keep-alive
// connections time out, and the listener caps the connections served at
// once.
//
// At that cap, idle connections do not lock new clients out: the listener
// accepts the new connection and closes the least recently used
// connections that wait between requests (or for their first), as nginx's
// ngx_drain_connections does (max(1, min(32, idle/8)) at a time), counted
// in zcopy_http_idle_connections_reclaimed_total. A connection is idle
// from the stack's StateIdle (both fire once the response is flushed)
// until Read returns a byte of its next request, so one reading a request
// or writing a response is never closed; a client whose idle connection is
// closed sends its next request on a new one. With none idle, the new
// connection waits for a slot or for one to go idle. A client that
// pipelines and has sent part of its next request when its connection goes
// idle can see it closed; RFC 9112, section 9.3.2 has it retry.
//
// Directory listings are built in memory, so their pages count against
// Config.ListingMemory (64 MiB by default, all connections together) from
// their first byte until the response is finished, however slowly the
// client reads (on fasthttp the page is a body stream, given back when
// fasthttp closes it); a listing past it gets 503 with Retry-After,
// counted in zcopy_http_listings_refused_total.
//
// A request whose line and header exceed 64 KiB gets 431; a GET or HEAD
// that declares a body is answered and its connection closed without the
// body being read (on plain HTTP, fasthttp first reads up to 8 KiB of it,
// within the header's read deadline: a client that never sends the body it
// declared gets 408 then); a transfer coding the server does not know,
// "identity" included, gets 501 (RFC 9112, section 6.1), and a version
// other than HTTP/1.x 505; and a connection closed with unread input is
// closed as nginx's lingering_close does, so the client reads the answer
// rather than a reset. A request the parser refuses is logged and counted
// as any other, its request line as "-".
//
// Dotfiles (a name with a segment that starts with a dot) are not served
// or listed without Config.Dotfiles, and neither is a name that reaches one
// through a symbolic link inside the root (dotfiles.go).
//
// TLS encrypts in user space, so HTTPS bodies are copied through the
// process; the server speaks HTTP/1.1 only.
package httpserve
