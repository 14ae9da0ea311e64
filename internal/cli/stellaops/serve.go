package stellaops

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/config"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/server"
)

// envNotKeys are STELLAOPS_* variables read by the commands themselves, not configuration keys.
var envNotKeys = []string{"STELLAOPS_DATA", "STELLAOPS_CONCELIER_DB", "STELLAOPS_NVD_API_KEY", "STELLAOPS_ORAS_*", "STELLAOPS_SIGNING_KEY", "STELLAOPS_SIGNING_KEY_FILE", "STELLAOPS_SIGNING_KEY_ID", "STELLAOPS_SIGNING_ALGORITHM", "STELLAOPS_TEST_*"}

// loadConfig resolves the server configuration: environment > appsettings.json >
// appsettings.local.json > appsettings.yaml > appsettings.local.yaml > defaults, with the files
// looked for in the --config-dir directories, else the working directory and the data directory.
func loadConfig(stdio cli.IO, dirs []string, data string) (server.Config, config.Sources, error) {
	cfg := server.Defaults()
	if len(dirs) == 0 {
		dirs = []string{"."}
		if data != "" {
			dirs = append(dirs, data)
		}
	}
	src, err := config.Load(&cfg, config.Options{Dirs: dirs, Environ: stdio.Environ, IgnoreEnv: envNotKeys})
	if err != nil {
		return cfg, src, cli.Usagef("%v", err)
	}
	return cfg, src, nil
}

func serveCommand(stdio cli.IO, env func(string) string, data *string, verbose *bool) *cobra.Command {
	var dev bool
	var roles []string
	var listen string
	var configDirs []string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the StellaOps server (API, Authority; --dev for a self-contained development instance)",
		Long: `Run the StellaOps server.

--dev is the self-contained mode: SQLite in the data directory, counters in memory, the
bundled advisory snapshot imported on first start, and a development client, admin user and
bootstrap key created on first start, printed once and kept in <data>/dev-credentials.json
(mode 0600).

Scale mode is the same binary with storage.driver=postgres (+ storage.dsn) and redis.addr set:
replicas share tokens, keys, revocations, audit and quota counters. Every replica needs the
same authority.issuer, quota.salt and a shared authority.keyDirectory.

Configuration (highest first): flags, environment (STELLAOPS_SECTION__KEY, e.g.
STELLAOPS_STORAGE__DSN), appsettings.json, appsettings.local.json, appsettings.yaml,
appsettings.local.yaml, defaults. 'stellaops config show' prints the result.

SIGINT/SIGTERM stop taking connections, turn /readyz to 503 and drain in-flight requests.`,
		Example: `  stellaops serve --dev
  STELLAOPS_STORAGE__DRIVER=postgres STELLAOPS_STORAGE__DSN=postgres://… STELLAOPS_REDIS__ADDR=127.0.0.1:6379 \
    stellaops serve --role api --listen :8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if *data == "" {
				*data = defaultDataDir(env)
			}
			log := cli.Logger(stdio.Err, *verbose)
			cfg, _, err := loadConfig(stdio, configDirs, *data)
			if err != nil {
				return err
			}
			// The variables `stellaops concelier run` reads apply to the server's Concelier too,
			// unless the configuration sets them.
			for _, v := range []struct {
				dst *string
				env string
			}{
				{&cfg.Concelier.DSN, "STELLAOPS_CONCELIER_DB"},
				{&cfg.Concelier.NVDAPIKey, "STELLAOPS_NVD_API_KEY"},
				{&cfg.Concelier.Exporters.TrivyDB.ORAS.Username, "STELLAOPS_ORAS_USERNAME"},
				{&cfg.Concelier.Exporters.TrivyDB.ORAS.Password, "STELLAOPS_ORAS_PASSWORD"},
			} {
				if *v.dst == "" {
					*v.dst = env(v.env)
				}
			}
			if cmd.Flags().Changed("role") {
				cfg.Server.Roles = splitList(roles)
			}
			if cmd.Flags().Changed("listen") {
				cfg.Server.Listen = listen
			}
			if dev {
				if cfg.Storage.Driver != "sqlite" || cfg.Redis.Addr != "" {
					log.Warn("--dev runs embedded: SQLite in the data directory and in-memory counters; storage and redis settings are ignored")
				}
				cfg.Storage = server.StorageConfig{Driver: "sqlite"}
				cfg.Redis = server.RedisConfig{}
			}
			if err := cfg.Validate(); err != nil {
				return cli.Usagef("configuration: %v", err)
			}
			if dev {
				if err := seedSnapshot(cmd, stdio, *data); err != nil {
					return err
				}
			}
			ln, err := net.Listen("tcp", cfg.Server.Listen)
			if err != nil {
				return fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
			}
			if cfg.Authority.Issuer == "" && dev {
				cfg.Authority.Issuer = "http://" + advertised(ln.Addr())
			}
			srv, err := server.New(ctx, cfg, server.Options{DataDir: *data, Dev: dev, Stdout: stdio.Out, Logger: log})
			if err != nil {
				ln.Close()
				return err
			}
			defer srv.Close()
			if dev && srv.DevCredentials != nil {
				fmt.Fprintf(stdio.Err, "Dev credentials: %s\n", filepath.Join(*data, server.DevCredentialsFile))
			}
			fmt.Fprintf(stdio.Err, "StellaOps listening on http://%s (roles %s)\n", advertised(ln.Addr()), strings.Join(cfg.Server.Roles, ","))
			return srv.Serve(ctx, ln)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dev, "dev", false, "self-contained development instance (SQLite, in-memory counters, dev credentials)")
	f.StringSliceVar(&roles, "role", []string{"all"}, "roles to run: api, worker, concelier, all (comma-separated)")
	f.StringVar(&listen, "listen", ":8080", "HTTP listen address")
	f.StringArrayVar(&configDirs, "config-dir", nil, "directory with appsettings files (repeatable, first wins; default the working and data directories)")
	return cmd
}

// seedSnapshot imports the bundled advisories into the data directory's snapshot store when
// it has none, so that the first scan has data offline.
func seedSnapshot(cmd *cobra.Command, stdio cli.IO, data string) error {
	st, err := snapshot.OpenStore(filepath.Join(data, "snapshots"))
	if err != nil {
		return err
	}
	snap, seeded, err := scan.EnsureSnapshot(cmd.Context(), st)
	if err != nil {
		return fmt.Errorf("advisory snapshot: %w", err)
	}
	defer snap.Close()
	if seeded {
		fmt.Fprintf(stdio.Err, "Imported the bundled advisory snapshot %s.\n", snap.Digest())
	}
	return nil
}

// advertised turns a listener address into host:port a local client can reach.
func advertised(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func splitList(v []string) []string {
	var out []string
	for _, s := range v {
		out = append(out, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}

func configCommand(stdio cli.IO, env func(string) string, data *string) *cobra.Command {
	var configDirs []string
	var sources bool
	c := &cobra.Command{Use: "config", Short: "Server configuration"}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the resolved server configuration, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if *data == "" {
				*data = defaultDataDir(env)
			}
			cfg, src, err := loadConfig(stdio, configDirs, *data)
			if err != nil {
				return err
			}
			var sp *config.Sources
			if sources {
				sp = &src
			}
			return config.Show(stdio.Out, cfg, sp)
		},
	}
	show.Flags().StringArrayVar(&configDirs, "config-dir", nil, "directory with appsettings files (repeatable, first wins)")
	show.Flags().BoolVar(&sources, "sources", false, "say where each value came from")
	c.AddCommand(show)
	return c
}
