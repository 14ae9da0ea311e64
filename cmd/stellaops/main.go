// Command stellaops is the StellaOps server binary (Concelier jobs for now). All logic lives in
// internal/cli/stellaops; this file only wires signals and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaops"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := stellaops.Run(ctx, os.Args[1:], cli.StdIO(), os.Getenv)
	code := cli.Code(ctx, err, os.Stderr, "stellaops")
	stop()
	os.Exit(code)
}
