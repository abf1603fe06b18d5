// Command zcopy moves file data over TCP with as few copies as the kernel
// allows. See 'zcopy help'.
package main

import (
	"context"
	"os"

	"github.com/zcopy/zcopy/internal/cli"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background())
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
