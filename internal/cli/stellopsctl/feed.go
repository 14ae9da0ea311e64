package stellopsctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

// mergeKind is the Concelier job that reconciles every source's advisories into the set
// (and the snapshot) scans match against.
const mergeKind = "merge:reconcile"

// sourceStages are a source's jobs in the order they must run: each reads what the one
// before stored.
var sourceStages = []string{"fetch", "parse", "map"}

// sourceID is the shape of a Concelier source id (osv, redhat, ...); which ones exist is the
// server's to say.
var sourceID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

func feedCommand(g *globals) *cobra.Command {
	return group("feed", "Advisory feeds: refresh them through the Concelier jobs, show their status",
		feedRefreshCommand(g), feedStatusCommand(g))
}

// refreshOptions are feed refresh's flags.
type refreshOptions struct {
	sources    []string
	mode       string
	mirror     string
	ecosystems []string
	mergeOnly  bool
	noMerge    bool
	wait       bool
	timeout    time.Duration
	poll       time.Duration
}

func feedRefreshCommand(g *globals) *cobra.Command {
	var o refreshOptions
	c := &cobra.Command{
		Use:   "refresh",
		Short: "Fetch, parse and map a feed, then run the merge (the Concelier jobs)",
		Long: `Refresh advisory feeds through the server's Concelier jobs: for each --source (default osv) the
jobs source:<id>:fetch, source:<id>:parse and source:<id>:map, one after the other, then
merge:reconcile, which rebuilds the advisory snapshot scans match against.

A source's stages read what the previous one stored, so refresh always follows them to the end
and stops at the first that fails. The merge is only triggered: refresh prints its job id and
returns (follow it with "stellopsctl feed status"), unless --wait follows it to completion too.

  stellopsctl feed refresh                      # force OSV merge
  stellopsctl feed refresh --source osv,redhat --wait
  stellopsctl feed refresh --ecosystem PyPI,Go  # OSV over the network, no mirror
  stellopsctl feed refresh --merge-only --wait  # reconcile what the sources hold

Exit code 1 when a run fails or is cancelled, or when a job kind is already queued or running
(HTTP 409: the server runs one run per kind at a time). Needs scopes concelier.jobs.trigger and
concelier.read.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return feedRefresh(cmd.Context(), g, o) },
	}
	f := c.Flags()
	f.StringSliceVar(&o.sources, "source", []string{"osv"}, "source(s) to refresh, repeatable or comma-separated (osv, alpine, debian, ubuntu, redhat, nvd, kev: whatever the server allows)")
	f.StringVar(&o.mode, "mode", "", "mode of the source jobs: resume, init or cursor (default: the server's, resume)")
	f.StringVar(&o.mirror, "mirror", "", "read the source from this mirror, a path relative to the server's concelier.mirrorRoot (default: the server's configured mirror or the network)")
	f.StringSliceVar(&o.ecosystems, "ecosystem", nil, "OSV ecosystems to fetch over the network, repeatable or comma-separated (e.g. PyPI,Go; default: the server's concelier.sources.osv.ecosystems)")
	f.BoolVar(&o.mergeOnly, "merge-only", false, "run only merge:reconcile, no source jobs")
	f.BoolVar(&o.noMerge, "no-merge", false, "run only the source jobs, no merge")
	f.BoolVar(&o.wait, "wait", false, "follow the merge to completion too (exit 1 if it fails)")
	f.DurationVar(&o.timeout, "timeout", 0, "give up following runs after this long (0: no limit); runs go on on the server")
	f.DurationVar(&o.poll, "poll-interval", time.Second, "how often to poll a run's state")
	_ = f.MarkHidden("poll-interval")
	return c
}

// refreshPlan lists the job kinds of a refresh in order.
func refreshPlan(o refreshOptions) ([]string, error) {
	if o.mergeOnly && o.noMerge {
		return nil, cli.Usagef("--merge-only and --no-merge exclude each other")
	}
	switch o.mode {
	case "", "resume", "init", "cursor":
	default:
		return nil, cli.Usagef("unknown --mode %q (resume, init or cursor)", o.mode)
	}
	if o.poll <= 0 || o.timeout < 0 {
		return nil, cli.Usagef("--poll-interval must be positive and --timeout not negative")
	}
	var kinds []string
	if !o.mergeOnly {
		if len(o.sources) == 0 {
			return nil, cli.Usagef("--source names no source (use --merge-only to run only the merge)")
		}
		seen := map[string]bool{}
		for _, s := range o.sources {
			if !sourceID.MatchString(s) {
				return nil, cli.Usagef("--source %q is not a source id (osv, redhat, ...)", s)
			}
			if seen[s] {
				continue
			}
			seen[s] = true
			for _, st := range sourceStages {
				kinds = append(kinds, "source:"+s+":"+st)
			}
		}
	} else if o.mode != "" || o.mirror != "" || len(o.ecosystems) > 0 {
		return nil, cli.Usagef("--mode, --mirror and --ecosystem apply to source jobs, not to --merge-only")
	}
	if len(o.ecosystems) > 0 && !o.mergeOnly && !slices.Contains(o.sources, "osv") {
		return nil, cli.Usagef("--ecosystem applies to the osv source only")
	}
	if !o.noMerge {
		kinds = append(kinds, mergeKind)
	}
	return kinds, nil
}

func feedRefresh(ctx context.Context, g *globals, o refreshOptions) error {
	kinds, err := refreshPlan(o)
	if err != nil {
		return err
	}
	bc, err := g.backend()
	if err != nil {
		return err
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	var runs []client.ConcelierJob
	done := func(err error) error {
		if g.json() {
			if runs == nil {
				runs = []client.ConcelierJob{}
			}
			if jerr := writeJSON(g.io.Out, map[string]any{"runs": runs}); jerr != nil && err == nil {
				err = jerr
			}
		}
		return err
	}
	status := newStatusLine(g.io.Err)
	for i, kind := range kinds {
		tr := client.ConcelierTrigger{Trigger: "stellopsctl"}
		if kind != mergeKind {
			tr.Parameters = client.ConcelierParameters{Mode: o.mode, Mirror: o.mirror}
			if strings.HasPrefix(kind, "source:osv:") {
				tr.Parameters.Ecosystems = o.ecosystems
			}
		}
		j, err := bc.TriggerConcelierJob(ctx, kind, tr)
		if err != nil {
			return done(failure(err, "%s", kind))
		}
		g.log.Debug("concelier job accepted", "kind", kind, "jobId", j.JobID)
		if i == len(kinds)-1 && kind == mergeKind && !o.wait {
			runs = append(runs, j)
			if !g.json() {
				fmt.Fprintf(g.io.Out, "%-24s %-10s job %s (follow it with: stellopsctl feed status)\n", kind, "accepted", j.JobID)
			}
			return done(nil)
		}
		id := j.JobID
		status.show(fmt.Sprintf("%s running (job %s)…", kind, id))
		j, err = bc.WaitConcelierJob(ctx, id, o.poll)
		status.clear()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = cli.Exit(cli.ExitFailure, fmt.Errorf("%s (job %s) still running after --timeout %s; it goes on on the server", kind, id, o.timeout))
			}
			return done(failure(err, "%s", kind))
		}
		runs = append(runs, j)
		if !g.json() {
			fmt.Fprintf(g.io.Out, "%-24s %-10s %8s  %s\n", kind, j.Status, duration(j), runSummary(j))
		}
		if j.Status != client.ConcelierJobSucceeded {
			return done(cli.Exit(cli.ExitFailure, fmt.Errorf("%s %s (job %s): %s", kind, j.Status, j.JobID, j.Error)))
		}
	}
	return done(nil)
}

// duration is a finished run's duration, rounded for people.
func duration(j client.ConcelierJob) string {
	if j.DurationMs == nil {
		return "-"
	}
	d := time.Duration(*j.DurationMs) * time.Millisecond
	if d < time.Second {
		return d.String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// statusLine shows what refresh waits for on a terminal, on one line it rewrites; elsewhere
// it shows nothing, so piped output holds only results.
type statusLine struct {
	w  io.Writer
	on bool
}

func newStatusLine(w io.Writer) *statusLine { return &statusLine{w: w, on: cli.IsTerminal(w)} }

func (s *statusLine) show(msg string) {
	if s.on {
		fmt.Fprintf(s.w, "\r\033[K%s", msg)
	}
}

func (s *statusLine) clear() {
	if s.on {
		fmt.Fprint(s.w, "\r\033[K")
	}
}
