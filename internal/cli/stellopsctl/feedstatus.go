package stellopsctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

// jobsPage is the page size of feed status's reads of GET /jobs (the server's maximum).
const jobsPage = 200

// kindStatus is one job kind's line of feed status.
type kindStatus struct {
	Kind string `json:"kind"`
	// Last is the newest run; LastSuccess the newest that succeeded among the runs read.
	Last        client.ConcelierJob  `json:"last"`
	LastSuccess *client.ConcelierJob `json:"lastSuccess"`
	// Runs is how many of the runs read are of this kind.
	Runs int `json:"runs"`
}

func feedStatusCommand(g *globals) *cobra.Command {
	var kind string
	var limit int
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the Concelier job runs per kind: last status, start and finish, counts (GET /jobs)",
		Long: `Show, for each Concelier job kind (source:<id>:<stage>, merge:reconcile, export:*), its newest
run: status, start and finish times, when it last succeeded and a summary of its counts (or the
error of a failed run). The newest --limit runs are read (default 200). Needs scope concelier.read.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return cli.Usagef("--limit must be at least 1")
			}
			bc, err := g.backend()
			if err != nil {
				return err
			}
			var runs []client.ConcelierJob
			cursor := ""
			for len(runs) < limit {
				page, err := bc.ConcelierJobs(cmd.Context(), kind, min(jobsPage, limit-len(runs)), cursor)
				if err != nil {
					return failure(err, "feed status")
				}
				runs = append(runs, page.Jobs...)
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			st := kindStatuses(runs)
			if g.json() {
				return writeJSON(g.io.Out, map[string]any{"kinds": st})
			}
			if len(st) == 0 {
				fmt.Fprintln(g.io.Out, "no Concelier job runs yet (start one with: stellopsctl feed refresh)")
				return nil
			}
			t := newTable(g.io.Out, "KIND", "STATUS", "STARTED", "FINISHED", "LAST SUCCESS", "SUMMARY")
			for _, k := range st {
				ok := "-"
				if k.LastSuccess != nil {
					ok = stamp(k.LastSuccess.FinishedAt)
				}
				sum := runSummary(k.Last)
				if k.Last.Error != "" {
					sum = "error: " + k.Last.Error
				}
				t.row(k.Kind, k.Last.Status, stamp(k.Last.StartedAt), stamp(k.Last.FinishedAt), ok, sum)
			}
			return t.flush()
		},
	}
	c.Flags().StringVar(&kind, "kind", "", "only this job kind (e.g. source:osv:fetch, merge:reconcile)")
	c.Flags().IntVar(&limit, "limit", jobsPage, "read the newest N runs")
	return c
}

// kindStatuses groups runs (newest first) by kind, in pipeline order: sources by id and
// stage, then the merge, then the exports.
func kindStatuses(runs []client.ConcelierJob) []kindStatus {
	byKind := map[string]*kindStatus{}
	var order []string
	for _, r := range runs {
		k, ok := byKind[r.Kind]
		if !ok {
			k = &kindStatus{Kind: r.Kind, Last: r}
			byKind[r.Kind] = k
			order = append(order, r.Kind)
		}
		k.Runs++
		if k.LastSuccess == nil && r.Status == client.ConcelierJobSucceeded {
			k.LastSuccess = &r
		}
	}
	slices.SortFunc(order, func(a, b string) int {
		if c := kindRank(a) - kindRank(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make([]kindStatus, 0, len(order))
	for _, k := range order {
		out = append(out, *byKind[k])
	}
	return out
}

// kindRank orders kinds as the pipeline runs them.
func kindRank(kind string) int {
	switch {
	case strings.HasPrefix(kind, "source:"):
		// source:<id>:<stage>: keep a source's stages together and in order.
		for i, st := range sourceStages {
			if strings.HasSuffix(kind, ":"+st) {
				return i
			}
		}
		return len(sourceStages)
	case kind == mergeKind:
		return 10
	default:
		return 20
	}
}

// runSummary renders a run's counts for people: the top-level numbers, flags and short
// strings in the server's order (digests shortened), leaving out nested objects.
func runSummary(j client.ConcelierJob) string {
	if len(j.Counts) == 0 {
		return "-"
	}
	dec := json.NewDecoder(bytes.NewReader(j.Counts))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "-"
	}
	var parts []string
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := kt.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			break
		}
		switch v := v.(type) {
		case json.Number, bool:
			parts = append(parts, fmt.Sprintf("%s=%v", key, v))
		case string:
			if strings.HasPrefix(v, "sha256:") && len(v) > 19 {
				v = v[:19]
			}
			if v != "" && len(v) <= 64 {
				parts = append(parts, key+"="+v)
			}
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
