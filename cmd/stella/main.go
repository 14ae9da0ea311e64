// Command stella is the CI scanner (spec §3.1). All logic lives in internal/cli/stella; this
// file only wires signals and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stella"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := stella.Run(ctx, os.Args[1:], cli.StdIO())
	code := cli.Code(ctx, err, os.Stderr, "stella")
	stop()
	os.Exit(code)
}
