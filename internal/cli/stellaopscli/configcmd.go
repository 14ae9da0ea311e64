package stellaopscli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli/clientcfg"
	"github.com/stellaops/stellaops/internal/config"
)

func configCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the client configuration"}
	var sources, asJSON bool
	show := &cobra.Command{
		Use:   "show [--sources] [--json]",
		Short: "Display resolved configuration",
		Long: `Display the resolved configuration, one key per line, with secret values masked (ApiKey,
BootstrapKey, Authority ClientSecret and Password); helpful for air-gapped installs. Precedence:
environment (API_KEY, STELLAOPS_BACKEND_URL, StellaOps:ApiKey style keys) > appsettings.json >
appsettings.local.json > appsettings.yaml > appsettings.local.yaml > defaults. --sources says where
each value came from; --json prints the masked configuration as JSON.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.configShow(sources, asJSON) },
	}
	show.Flags().BoolVar(&sources, "sources", false, "name the source of each value (env variable, file:line or default) and the files read")
	show.Flags().BoolVar(&asJSON, "json", false, "print the masked configuration as JSON")
	cmd.AddCommand(show)
	return cmd
}

// configSources loads the configuration as g.config does, keeping where each value came from.
func (g *globals) configSources() (clientcfg.Config, config.Sources, error) {
	return clientcfg.LoadCommandLine(g.io.Environ, g.configDir)
}

func (g *globals) configShow(sources, asJSON bool) error {
	cfg, src, err := g.configSources()
	if err != nil {
		return err
	}
	w := g.io.Out
	if asJSON {
		b, err := json.MarshalIndent(map[string]any{"StellaOps": config.Masked(cfg)}, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	if !sources {
		return config.Show(w, cfg, nil)
	}
	if len(src.Files) == 0 {
		fmt.Fprintln(w, "# files: none found")
	}
	for _, f := range src.Files {
		fmt.Fprintf(w, "# file: %s\n", f)
	}
	return config.Show(w, cfg, &src)
}
