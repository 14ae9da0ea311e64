package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/stellaops/stellaops/internal/scan"
)

// writeTable renders findings one per row, grouped by package, with a header naming the target,
// the advisory snapshot and the severity counts.
func writeTable(w io.Writer, res *scan.Result) error {
	t := res.Target
	name := t.Name
	if t.Digest != "" {
		name += " (" + t.Digest + ")"
	}
	fmt.Fprintf(w, "Target:     %s\n", name)
	if d := res.Distro; d.ID != "" {
		fmt.Fprintf(w, "OS:         %s\n", strings.TrimSpace(d.ID+" "+d.VersionID))
	}
	fmt.Fprintf(w, "Advisories: %s\n", res.Snapshot.Digest)
	comps := 0
	if res.Inventory != nil {
		comps = len(res.Inventory.Components)
	}
	s := res.Summary
	fmt.Fprintf(w, "Components: %d; vulnerabilities: %d (Critical %d, High %d, Medium %d, Low %d, Unknown %d)\n",
		comps, len(res.Findings), s.Critical, s.High, s.Medium, s.Low, s.Unknown)
	for _, n := range res.Notes {
		fmt.Fprintf(w, "Note:       %s\n", n)
	}
	if len(res.Findings) == 0 {
		fmt.Fprintln(w, "\nNo known vulnerabilities.")
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tVULNERABILITY\tSEVERITY\tSTATUS\tINSTALLED\tFIXED IN\tTITLE")
	for _, f := range res.Findings {
		pkg := f.Component.Name
		if f.MatchedPackage != "" && f.MatchedPackage != f.Component.Name {
			pkg += " (" + f.MatchedPackage + ")"
		}
		title := f.Summary
		if len(title) > 60 {
			title = title[:57] + "..."
		}
		fixed := f.FixedVersion
		if fixed == "" && len(f.FixedVersions) > 0 {
			fixed = strings.Join(f.FixedVersions, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", pkg, f.ID, f.Severity, f.Status, f.InstalledVersion, fixed, title)
	}
	return tw.Flush()
}
