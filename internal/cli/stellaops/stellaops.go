// Package stellaops implements the `stellaops` server binary's commands: `serve` (the server,
// by role, or --dev), `config show`, and `concelier run`, which runs one Concelier job in
// process against the data directory (the same one stellaops-cli scan run reads its advisory
// snapshot from).
package stellaops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/concelier"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Run executes stellaops with args (without the program name).
func Run(ctx context.Context, args []string, stdio cli.IO, env func(string) string) error {
	var cpuProfile string
	root := command(stdio, env, &cpuProfile)
	root.SetArgs(args)
	stop, err := cli.StartCPUProfile(&cpuProfile, args)
	if err != nil {
		return err
	}
	defer stop()
	return root.ExecuteContext(ctx)
}

// Command is the stellaops command tree, for generated documentation (man pages, completion).
func Command(stdio cli.IO, env func(string) string) *cobra.Command {
	var cpuProfile string
	return command(stdio, env, &cpuProfile)
}

func command(stdio cli.IO, env func(string) string, cpuProfile *string) *cobra.Command {
	var data string
	var verbose bool
	root := &cobra.Command{
		Use:           "stellaops",
		Short:         "StellaOps server and Concelier jobs",
		Version:       buildinfo.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	pf := root.PersistentFlags()
	pf.StringVar(&data, "data", "", "data directory (env STELLAOPS_DATA; default ~/.stellaops/data), shared with stellaops-cli")
	pf.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	pf.StringVar(cpuProfile, "cpuprofile", "", "write a CPU profile to FILE (for performance reports)")
	_ = pf.MarkHidden("cpuprofile")

	conc := &cobra.Command{Use: "concelier", Short: "Advisory ingestion, merge and exports"}
	o := concelier.Options{TrivyDB: concelier.DefaultTrivyDBOptions()}
	var dsn string
	var bundle bool
	runCmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Run one Concelier job: source:<id>:<fetch|parse|map>, merge:reconcile, export:json, export:trivy-db",
		Long: `Run one Concelier job in process and print its record.

Jobs:
  source:osv:fetch     download each ecosystem's all.zip (or read --mirror DIR, laid out as
                       <Ecosystem>/all.zip as osv-scanner uses offline) and store every record
  source:osv:parse     check the pending records; malformed ones are marked failed with the reason
  source:osv:map       store the parsed records in the canonical model
  source:<id>:<stage>  the same stages for alpine (secdb), debian (security tracker), ubuntu (CVE
                       tracker), redhat (CSAF VEX), nvd (CVE API 2.0; API key from
                       STELLAOPS_NVD_API_KEY) and kev (CISA KEV: marks known exploitation)
  merge:reconcile      unite all sources' records (aliases, precedence table), record merge events
                       and publish a new advisory snapshot for scans
  export:json          the merged set as a JSON tree (+ manifest, tar.gz, metadata.json);
                       --delta against the last full export
  export:trivy-db      the merged set as a Trivy DB (trivy.db, metadata.json, db.tar.gz, OCI layout
                       with the export's metadata.json); --delta against the last full export;
                       --oras-ref pushes it to a registry, --bundle packs offline-bundle.tar.gz

A second run of a job kind that is still running is refused. Exit codes: 0 success, 1 the job
failed or is already running, 2 usage error, 130 interrupted.`,
		Example: `  stellaops concelier run source:osv:fetch --mirror ../shared/corpora/osv
  stellaops concelier run source:osv:parse
  stellaops concelier run source:osv:map
  stellaops concelier run merge:reconcile
  stellaops concelier run export:trivy-db --output /tmp/trivy-db`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("name one job (for example source:osv:fetch)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if data == "" {
				data = defaultDataDir(env)
			}
			if dsn == "" {
				dsn = env("STELLAOPS_CONCELIER_DB")
			}
			log := cli.Logger(stdio.Err, verbose)
			st, err := concelier.OpenStore(cmd.Context(), data, dsn, store.Options{})
			if err != nil {
				return err
			}
			defer st.Close()
			progress := cli.NewCounts(stdio.Err, args[0])
			defer progress.Done()
			host, _ := os.Hostname()
			svc := &concelier.Service{Store: concelier.Observe(st, progress.Add), DataDir: data, Now: time.Now, Runner: jobs.New(st, fmt.Sprintf("%s:%d", host, os.Getpid()))}
			o.Trigger = "cli:" + env("USER")
			o.NVDAPIKey = env("STELLAOPS_NVD_API_KEY")
			o.TrivyDB.ORAS.Enabled = o.TrivyDB.ORAS.Ref != ""
			o.TrivyDB.ORAS.Username, o.TrivyDB.ORAS.Password = env("STELLAOPS_ORAS_USERNAME"), env("STELLAOPS_ORAS_PASSWORD")
			o.TrivyDB.OfflineBundle.Enabled = bundle
			start := time.Now()
			log.Debug("job starting", "kind", args[0], "data", data)
			job, err := svc.Run(cmd.Context(), args[0], o)
			progress.Done()
			if job.ID == "" { // refused before it started: unknown job, bad options, busy kind
				if errors.Is(err, concelier.ErrUnknownJob) || errors.Is(err, concelier.ErrInvalidOptions) {
					return cli.Usagef("%v", err)
				}
				return err
			}
			b, _ := json.MarshalIndent(job.Counts, "", "  ")
			fmt.Fprintf(stdio.Out, "%s %s in %s (job %s)\n%s\n", job.Kind, job.Outcome, time.Since(start).Round(time.Millisecond), job.ID, b)
			return err
		},
	}
	f := runCmd.Flags()
	f.StringVar(&o.Mode, "mode", "", "source jobs: init (ignore the cursor), resume (only what is pending), cursor (default: what changed)")
	f.StringVar(&o.Mirror, "mirror", "", "source jobs: read this local copy instead of the network")
	f.StringSliceVar(&o.Ecosystems, "ecosystem", nil, "source:osv: ecosystems to fetch (repeatable; default: every one in --mirror)")
	f.StringVarP(&o.Output, "output", "o", "", "exports: output directory (default <data>/exports/<format>/<time>)")
	f.BoolVar(&o.Delta, "delta", false, "exports: only what changed since the last full export")
	f.StringVar(&o.TrivyDB.ORAS.Ref, "oras-ref", "", "export:trivy-db: push the OCI artifact to this registry/repository:tag (credentials: STELLAOPS_ORAS_USERNAME/PASSWORD, else the Docker config)")
	f.BoolVar(&o.TrivyDB.ORAS.PublishFull, "publish-full", true, "export:trivy-db: push full runs (with --oras-ref)")
	f.BoolVar(&o.TrivyDB.ORAS.PublishDelta, "publish-delta", false, "export:trivy-db: push delta runs (with --oras-ref)")
	f.BoolVar(&o.TrivyDB.ORAS.PlainHTTP, "oras-plain-http", false, "export:trivy-db: talk HTTP, not HTTPS, to the registry")
	f.BoolVar(&bundle, "bundle", false, "export:trivy-db: write offline-bundle.tar.gz (+ .sha256) in the output directory")
	f.BoolVar(&o.TrivyDB.OfflineBundle.IncludeFull, "bundle-full", true, "export:trivy-db: bundle full runs (with --bundle)")
	f.BoolVar(&o.TrivyDB.OfflineBundle.IncludeDelta, "bundle-delta", false, "export:trivy-db: bundle delta runs (with --bundle)")
	f.StringVar(&dsn, "db", "", "store: a postgres:// URL (env STELLAOPS_CONCELIER_DB); default the embedded SQLite database in the data directory")
	conc.AddCommand(runCmd)
	root.AddCommand(conc, serveCommand(stdio, env, &data, &verbose), configCommand(stdio, env, &data))
	return root
}

// defaultDataDir is $STELLAOPS_DATA, else ~/.stellaops/data (shared with stellaops-cli).
func defaultDataDir(env func(string) string) string {
	if d := env("STELLAOPS_DATA"); d != "" {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".stellaops", "data")
	}
	return filepath.Join(os.TempDir(), "stellaops-data")
}
