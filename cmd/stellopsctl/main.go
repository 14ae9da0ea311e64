// Command stellopsctl is the StellaOps admin utility (policy snapshots, feed status, users and
// OAuth clients). All logic lives in internal/cli/stellopsctl; this file only wires signals
// and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellopsctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := stellopsctl.Run(ctx, os.Args[1:], cli.StdIO())
	code := cli.Code(ctx, err, os.Stderr, "stellopsctl")
	stop()
	os.Exit(code)
}
