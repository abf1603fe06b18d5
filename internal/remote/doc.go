// Package remote starts zcopy's far end over the system's ssh, as scp and
// rsync do, for the one-command forms `zcopy send PATH... [user@]HOST:DIR`
// and `zcopy recv [user@]HOST:PATH... DIR`.
//
// Only control crosses ssh: the far end listens on a port of its own,
// makes a fresh token and announces both on its standard output in one
// JSON line (Announcement); the local end reads it and connects to the
// port directly, so ssh's user-space cipher never carries the bulk data
// (bbcp's design). The token never appears on a command line at either
// end (ps shows the far command, not the announcement). The far end's
// standard error is relayed line by line to the user, its exit status
// comes back through ssh, and closing ssh's standard input (which ssh
// does when the local process dies) ends the far end, so an interrupted
// transfer leaves no process behind.
//
// The package knows nothing of zcopy's flags: the caller builds the far
// command line; this package quotes it for the far shell, runs ssh, reads
// the announcement, relays and waits.
package remote
