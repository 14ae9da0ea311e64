// Package stellaopscli implements the stellaops-cli commands. cmd/stellaops-cli only calls Run.
package stellaopscli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
)

// globals are the flags every command shares.
type globals struct {
	data       string
	verbose    bool
	cpuProfile string
	io         cli.IO
	env        func(string) string
	log        *slog.Logger
}

// Run executes stellaops-cli with args (without the program name).
func Run(ctx context.Context, args []string, stdio cli.IO, env func(string) string) error {
	g := &globals{io: stdio, env: env}
	root := &cobra.Command{
		Use:           "stellaops-cli",
		Short:         "StellaOps command-line client: SBOMs, scans, advisory database and Authority",
		Version:       buildinfo.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.log = cli.Logger(stdio.Err, g.verbose)
			if g.data == "" {
				g.data = defaultDataDir(env)
			}
			return nil
		},
	}
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&g.data, "data", "", "data directory holding caches and the advisory snapshot (env STELLAOPS_DATA; default ~/.stellaops/data)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logging")
	pf.StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile to FILE (for performance reports)")
	_ = pf.MarkHidden("cpuprofile")
	root.AddCommand(sbomCommand(g), scanCommand(g), reportCommand(g))
	stop, err := cli.StartCPUProfile(&g.cpuProfile, args)
	if err != nil {
		return err
	}
	defer stop()
	return root.ExecuteContext(ctx)
}

// defaultDataDir is $STELLAOPS_DATA, else ~/.stellaops/data (shared with stellaops serve).
func defaultDataDir(env func(string) string) string {
	if d := env("STELLAOPS_DATA"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".stellaops", "data")
	}
	return filepath.Join(os.TempDir(), "stellaops-data")
}

// exactArgs is cobra.ExactArgs reported as a usage error (exit code 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return cli.Usagef("%v", err)
		}
		return nil
	}
}
