package stellaopscli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

// jobFlags are what every db command shares: follow the run, and how often to look.
type jobFlags struct {
	wait     bool
	interval time.Duration
}

func (f *jobFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.wait, "wait", false, "follow the run until it ends; exit code 1 when it fails")
	cmd.Flags().DurationVar(&f.interval, "poll-interval", time.Second, "how often --wait asks for the run's status")
	_ = cmd.Flags().MarkHidden("poll-interval")
}

func dbCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Trigger the advisory database jobs (Concelier connectors, merge, exports)",
		Long: `Trigger the server's advisory database jobs through POST /jobs/<kind>: connector stages, the canonical
merge and the JSON / Trivy DB exports. Each command prints the accepted run's id and status; --wait
follows the run to its end. Exit codes: 0 accepted (or, with --wait, succeeded), 1 failed, refused or
conflicting (a run of the kind is already queued or running), 2 usage error.`,
	}
	var fetch struct {
		source, stage, mode string
		jobFlags
	}
	fetchCmd := &cobra.Command{
		Use:   "fetch --source ID [--stage fetch|parse|map] [--mode resume|init|cursor]",
		Short: "Trigger connector jobs",
		Long: `Trigger a connector job: POST /jobs/source:<id>:<stage>. --source is the connector (e.g. osv, redhat,
alpine), --stage fetch (default), parse or map, --mode resume (default: the server's), init or cursor.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fetch.source == "" {
				return cli.Usagef("--source is required (e.g. osv, redhat)")
			}
			if strings.ContainsAny(fetch.source, ":/ ") {
				return cli.Usagef("--source %q: a connector id such as osv or redhat", fetch.source)
			}
			switch fetch.stage {
			case "fetch", "parse", "map":
			default:
				return cli.Usagef("--stage %q: fetch, parse or map", fetch.stage)
			}
			switch fetch.mode {
			case "", "resume", "init", "cursor":
			default:
				return cli.Usagef("--mode %q: resume, init or cursor", fetch.mode)
			}
			kind := "source:" + fetch.source + ":" + fetch.stage
			return g.runJob(cmd.Context(), "db fetch", kind, client.ConcelierParameters{Mode: fetch.mode}, fetch.jobFlags)
		},
	}
	fetchCmd.Flags().StringVar(&fetch.source, "source", "", "connector id, e.g. redhat or osv (required)")
	fetchCmd.Flags().StringVar(&fetch.stage, "stage", "fetch", "stage: fetch|parse|map")
	fetchCmd.Flags().StringVar(&fetch.mode, "mode", "", "mode: resume|init|cursor (default: the server's)")
	fetch.register(fetchCmd)

	var merge jobFlags
	mergeCmd := &cobra.Command{
		Use:   "merge",
		Short: "Run canonical merge reconcile",
		Long:  `Run the canonical merge: POST /jobs/merge:reconcile. Exit code 0 on acceptance (with --wait: on success), 1 on failures or conflicts.`,
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runJob(cmd.Context(), "db merge", "merge:reconcile", client.ConcelierParameters{}, merge)
		},
	}
	merge.register(mergeCmd)

	var export struct {
		format                                                    string
		delta, publishFull, publishDelta, bundleFull, bundleDelta bool
		jobFlags
	}
	exportCmd := &cobra.Command{
		Use:   "export [--format json|trivy-db] [--delta] [--publish-full] [--publish-delta] [--bundle-full] [--bundle-delta]",
		Short: "Kick JSON / Trivy exports",
		Long: `Kick an export: POST /jobs/export:json or /jobs/export:trivy-db. --delta sets { delta = true }.
--publish-full/--publish-delta (ORAS push) and --bundle-full/--bundle-delta (offline bundle) override the
server's concelier:exporters:trivyDb switches for this run (=false turns one off). On an interactive
terminal without any of these override flags, the CLI asks for this run's ORAS and offline bundle
behaviour.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := client.ConcelierParameters{}
			if export.delta {
				p.Delta = client.JobFlag(true)
			}
			fl := cmd.Flags()
			overrides := map[string]**bool{"publish-full": &p.PublishFull, "publish-delta": &p.PublishDelta,
				"bundle-full": &p.IncludeFull, "bundle-delta": &p.IncludeDelta}
			values := map[string]bool{"publish-full": export.publishFull, "publish-delta": export.publishDelta,
				"bundle-full": export.bundleFull, "bundle-delta": export.bundleDelta}
			overridden := false
			for name, dst := range overrides {
				if fl.Changed(name) {
					overridden = true
					*dst = client.JobFlag(values[name])
				}
			}
			var kind string
			switch export.format {
			case "json":
				if overridden {
					return cli.Usagef("--publish-*/--bundle-* apply to --format trivy-db only")
				}
				kind = "export:json"
			case "trivy-db":
				kind = "export:trivy-db"
				if !overridden && g.interactive() {
					var err error
					if p, err = promptExport(g.io.In, g.io.Out, p); err != nil {
						return err
					}
				}
			default:
				return cli.Usagef("--format %q: json or trivy-db", export.format)
			}
			return g.runJob(cmd.Context(), "db export", kind, p, export.jobFlags)
		},
	}
	ef := exportCmd.Flags()
	ef.StringVar(&export.format, "format", "json", "export format: json|trivy-db")
	ef.BoolVar(&export.delta, "delta", false, "export only what changed since the last full export")
	ef.BoolVar(&export.publishFull, "publish-full", false, "push a full trivy-db run to the ORAS registry (overrides the server's setting)")
	ef.BoolVar(&export.publishDelta, "publish-delta", false, "push a delta trivy-db run to the ORAS registry (overrides the server's setting)")
	ef.BoolVar(&export.bundleFull, "bundle-full", false, "write a full trivy-db run into the offline bundle (overrides the server's setting)")
	ef.BoolVar(&export.bundleDelta, "bundle-delta", false, "write a delta trivy-db run into the offline bundle (overrides the server's setting)")
	export.register(exportCmd)

	cmd.AddCommand(fetchCmd, mergeCmd, exportCmd)
	return cmd
}

// interactive reports whether prompts may be shown: both standard input and output are terminals.
func (g *globals) interactive() bool {
	in, ok := g.io.In.(*os.File)
	return ok && cli.IsTerminal(in) && cli.IsTerminal(g.io.Out)
}

// promptExport asks for this run's ORAS and offline bundle switches of a trivy-db export (the
// ones of its mode: full or delta); Enter keeps the server's configuration.
func promptExport(in io.Reader, out io.Writer, p client.ConcelierParameters) (client.ConcelierParameters, error) {
	r := bufio.NewReader(in)
	mode := "full"
	publish, bundle := &p.PublishFull, &p.IncludeFull
	if p.Delta != nil && *p.Delta {
		mode = "delta"
		publish, bundle = &p.PublishDelta, &p.IncludeDelta
	}
	for _, q := range []struct {
		text string
		dst  **bool
	}{
		{"Push this " + mode + " run to the ORAS registry?", publish},
		{"Write this " + mode + " run into the offline bundle?", bundle},
	} {
		for {
			fmt.Fprintf(out, "%s [y/n, Enter: server default] ", q.text)
			line, err := r.ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return p, err
			}
			answer := strings.ToLower(strings.TrimSpace(line))
			if err != nil && answer == "" {
				fmt.Fprintln(out)
				return p, nil // end of input: the server's defaults for the rest
			}
			switch answer {
			case "":
			case "y", "yes":
				*q.dst = client.JobFlag(true)
			case "n", "no":
				*q.dst = client.JobFlag(false)
			default:
				fmt.Fprintln(out, "Answer y or n, or press Enter for the server's default.")
				continue
			}
			break
		}
	}
	return p, nil
}

// runJob triggers kind, prints the accepted run, and with --wait follows it to its end.
func (g *globals) runJob(ctx context.Context, op, kind string, p client.ConcelierParameters, f jobFlags) error {
	var j client.ConcelierJob
	if err := g.call(ctx, op, func(c *client.Client) error {
		var err error
		j, err = c.TriggerConcelierJob(ctx, kind, client.ConcelierTrigger{Trigger: "cli", Parameters: p})
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(g.io.Out, "Job %s (%s): %s\n", j.JobID, j.Kind, j.Status)
	if !f.wait || j.Done() {
		return jobOutcome(g.io.Out, j, j.Done())
	}
	if err := g.call(ctx, op, func(c *client.Client) error {
		var err error
		j, err = c.WaitConcelierJob(ctx, j.JobID, f.interval)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(g.io.Out, "Job %s (%s): %s", j.JobID, j.Kind, j.Status)
	if j.DurationMs != nil {
		fmt.Fprintf(g.io.Out, " in %s", (time.Duration(*j.DurationMs) * time.Millisecond).String())
	}
	fmt.Fprintln(g.io.Out)
	return jobOutcome(g.io.Out, j, true)
}

// jobOutcome prints a finished run's counts and turns a failed or cancelled one into exit code 1.
func jobOutcome(w io.Writer, j client.ConcelierJob, ended bool) error {
	if !ended {
		return nil
	}
	var counts bytes.Buffer
	if json.Compact(&counts, j.Counts) == nil && counts.Len() > 0 && counts.String() != "null" {
		fmt.Fprintf(w, "Counts: %s\n", counts.Bytes())
	}
	switch j.Status {
	case client.ConcelierJobFailed, client.ConcelierJobCancelled:
		msg := j.Error
		if msg == "" {
			msg = "no reason given"
		}
		return fmt.Errorf("job %s (%s) %s: %s", j.JobID, j.Kind, j.Status, msg)
	}
	return nil
}
