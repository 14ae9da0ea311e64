// Package stellaopscli implements the stellaops-cli commands. cmd/stellaops-cli only calls Run.
package stellaopscli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/clientcfg"
	"github.com/stellaops/stellaops/pkg/client"
)

// globals are the flags every command shares.
type globals struct {
	data       string
	verbose    bool
	cpuProfile string
	configDir  string
	io         cli.IO
	env        func(string) string
	log        *slog.Logger

	cfg clientcfg.Lazy
}

// config is the client configuration (spec §3 template), loaded on first use: environment >
// appsettings.json > appsettings.local.json > appsettings.yaml > appsettings.local.yaml >
// defaults, the files from --config-dir, else the working directory and the binary's.
func (g *globals) config() (*clientcfg.Config, error) { return g.cfg.Load(g.io.Environ, g.configDir) }

// backend is a client of the configured server, authenticated as the configuration says.
func (g *globals) backend() (*client.Client, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	c, err := cfg.Client("", "")
	if errors.Is(err, clientcfg.ErrNoBackend) {
		return nil, cli.Usagef("%v", err)
	}
	return c, err
}

// Run executes stellaops-cli with args (without the program name).
func Run(ctx context.Context, args []string, stdio cli.IO, env func(string) string) error {
	g := &globals{io: stdio, env: env}
	root := command(g)
	root.SetArgs(args)
	stop, err := cli.StartCPUProfile(&g.cpuProfile, args)
	if err != nil {
		return err
	}
	defer stop()
	return root.ExecuteContext(ctx)
}

// Command is the stellaops-cli command tree, for generated documentation (man pages,
// completion).
func Command(stdio cli.IO, env func(string) string) *cobra.Command {
	return command(&globals{io: stdio, env: env})
}

func command(g *globals) *cobra.Command {
	stdio, env := g.io, g.env
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
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&g.data, "data", "", "data directory holding caches and the advisory snapshot (env STELLAOPS_DATA; default ~/.stellaops/data)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logging")
	pf.StringVar(&g.configDir, "config-dir", "", "directory of the appsettings files (default: the working directory, then the binary's)")
	pf.StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile to FILE (for performance reports)")
	_ = pf.MarkHidden("cpuprofile")
	root.AddCommand(sbomCommand(g), scanCommand(g), reportCommand(g))
	// Commands that talk to the server, one registration per line.
	root.AddCommand(authCommand(g))
	root.AddCommand(dbCommand(g))
	root.AddCommand(configCommand(g))
	root.AddCommand(runtimeCommand(g))
	root.AddCommand(scannerCommand(g))
	root.AddCommand(offlineCommand(g))
	addScanUpload(root, g)
	return root
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
