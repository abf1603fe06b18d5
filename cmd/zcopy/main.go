// Command zcopy moves file data over TCP with as few copies as the kernel
// allows. See 'zcopy help'.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zcopy/zcopy/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
