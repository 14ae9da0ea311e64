// Package stellopsctl implements stellopsctl, the StellaOps admin utility (spec §3.3: policy
// snapshots, feed status, user CRUD), plus the OAuth clients of the Authority.
// cmd/stellopsctl only calls Run.
package stellopsctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/clientcfg"
	"github.com/stellaops/stellaops/pkg/client"
)

// Output formats of the commands that print results.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// globals are the flags every command shares and what they resolve to.
type globals struct {
	server       string
	token        string
	bootstrapKey string
	configDir    string
	verbose      bool
	output       string
	io           cli.IO
	log          *slog.Logger

	cfg clientcfg.Lazy
}

// config is the client configuration (spec §3 template), loaded on first use: environment >
// appsettings.json > appsettings.local.json > appsettings.yaml > appsettings.local.yaml >
// defaults, the files from --config-dir, else the working directory and the binary's.
func (g *globals) config() (*clientcfg.Config, error) { return g.cfg.Load(g.io.Environ, g.configDir) }

// backend is a client of the server for the policy and feed commands, authenticated the
// normal way: --token, else ApiKey, else the Authority credentials (cached token).
func (g *globals) backend() (*client.Client, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	// Its errors are all configuration: no backend, or a URL that is not one.
	c, err := cfg.Client(g.server, g.token, client.WithUserAgent("stellopsctl"))
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	return c, nil
}

// errNoBootstrapKey is the usage error of admin commands run without the key.
var errNoBootstrapKey = errors.New("no bootstrap key: the user and client commands call the admin API (/internal/*); " +
	"set StellaOps:BootstrapKey (env STELLAOPS_BOOTSTRAP_KEY) or pass --bootstrap-key")

// admin is a client of the admin API (/internal/*), which takes the bootstrap key and no
// token: --bootstrap-key, else StellaOps:BootstrapKey (env STELLAOPS_BOOTSTRAP_KEY).
func (g *globals) admin() (*client.Client, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	key := g.bootstrapKey
	if key == "" {
		key = cfg.BootstrapKey
	}
	if key == "" {
		return nil, cli.Exit(cli.ExitUsage, errNoBootstrapKey)
	}
	base := g.server
	if base == "" {
		base = cfg.BackendURL
	}
	if base == "" {
		return nil, cli.Usagef("%v", clientcfg.ErrNoBackend)
	}
	c, err := client.New(base, client.WithBootstrapKey(key), client.WithUserAgent("stellopsctl"))
	if err != nil {
		return nil, cli.Usagef("--server: %v", err)
	}
	return c, nil
}

// json reports whether results are to be printed as JSON.
func (g *globals) json() bool { return g.output == formatJSON }

// Run executes stellopsctl with args (without the program name).
func Run(ctx context.Context, args []string, stdio cli.IO) error {
	root := Command(stdio)
	root.SetArgs(args)
	return classify(root.ExecuteContext(ctx))
}

// Command is the stellopsctl command tree, for Run and for generated documentation (man
// pages, completion).
func Command(stdio cli.IO) *cobra.Command {
	g := &globals{io: stdio}
	root := &cobra.Command{
		Use:   "stellopsctl",
		Short: "Admin utility – policy snapshots, feed status, user CRUD",
		Long: `Admin utility – policy snapshots, feed status, user CRUD (StellaOps).

Examples:
  stellopsctl policy export > policies/backup-2025-07-14.yaml
  stellopsctl feed refresh  # force OSV merge
  stellopsctl user add dev-team --role developer

The policy and feed commands authenticate like stellaops-cli (--token, StellaOps:ApiKey, or the
StellaOps:Authority credentials); the user and client commands call the admin API (/internal/*)
with the bootstrap key (--bootstrap-key, StellaOps:BootstrapKey, env STELLAOPS_BOOTSTRAP_KEY).

Exit codes: 0 success, 1 a call failed or conflicted (the server's problem detail is printed),
2 usage or configuration error, or the server is unreachable; 130 interrupted.`,
		Version: buildinfo.Get().Version,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownSubcommand(cmd, args)
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.log = cli.Logger(stdio.Err, g.verbose)
			if g.output != formatTable && g.output != formatJSON {
				return cli.Usagef("unknown --output %q (table or json)", g.output)
			}
			return nil
		},
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "API root (default: StellaOps:BackendUrl, env STELLAOPS_BACKEND_URL)")
	pf.StringVar(&g.token, "token", "", "bearer token of the policy and feed commands (default: StellaOps:ApiKey, else the Authority credentials)")
	pf.StringVar(&g.bootstrapKey, "bootstrap-key", "", "bootstrap key of the user and client commands (default: StellaOps:BootstrapKey, env STELLAOPS_BOOTSTRAP_KEY; prefer the environment, command lines are visible to other users)")
	pf.StringVar(&g.configDir, "config-dir", "", "directory of the appsettings files (default: the working directory, then the binary's)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "debug logging")
	pf.StringVarP(&g.output, "output", "o", formatTable, "output format of results: table or json")
	root.AddCommand(policyCommand(g), feedCommand(g), userCommand(g), clientCommand(g))
	return root
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

// noArgs is cobra.NoArgs reported as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cli.Usagef("unexpected argument %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// unknownSubcommand makes a command group without a subcommand a usage error instead of
// printing help with exit code 0.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cli.Usagef("%s needs a subcommand (see %s --help)", cmd.CommandPath(), cmd.CommandPath())
	}
	hint := ""
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only for its own message
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return cli.Usagef("unknown command %q for %q%s", args[0], cmd.CommandPath(), hint)
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: unknownSubcommand}
	c.AddCommand(subs...)
	return c
}
