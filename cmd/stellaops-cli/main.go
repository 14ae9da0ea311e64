// Command stellaops-cli is the StellaOps command-line client. All logic lives in
// internal/cli/stellaopscli; this file only wires signals and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaopscli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := stellaopscli.Run(ctx, os.Args[1:], cli.StdIO(), os.Getenv)
	code := cli.Code(ctx, err, os.Stderr, "stellaops-cli")
	stop()
	os.Exit(code)
}
