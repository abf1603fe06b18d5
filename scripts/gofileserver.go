//go:build ignore

// gofileserver serves a directory with Go's own http.FileServer, as the
// baseline of scripts/http-compare.sh: net/http's ReadFrom reaches Go's own
// sendfile through *net.TCPConn, with no corking.
//
//	go run scripts/gofileserver.go ADDR DIR
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/gofileserver.go ADDR DIR")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "serving %s on http://%s/\n", os.Args[2], ln.Addr())
	fmt.Fprintln(os.Stderr, http.Serve(ln, http.FileServer(http.Dir(os.Args[2]))))
	os.Exit(1)
}
