package stellaopscli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/stellaops/stellaops/internal/inventory"
)

// writeTable renders an inventory for people: a header naming the target and distro, then one
// row per component in inventory order.
func writeTable(w io.Writer, inv *inventory.Inventory) {
	t := inv.Target
	name := t.Name
	if t.Digest != "" {
		name += " (" + t.Digest + ")"
	}
	fmt.Fprintf(w, "Target:     %s\n", name)
	if inv.Distro.ID != "" {
		d := inv.Distro.PrettyName
		if d == "" {
			d = inv.Distro.String()
		}
		fmt.Fprintf(w, "OS:         %s\n", d)
	}
	if len(inv.Layers) > 0 {
		fmt.Fprintf(w, "Layers:     %d\n", len(inv.Layers))
	}
	fmt.Fprintf(w, "Components: %d\n\n", len(inv.Components))
	layerNo := map[string]int{}
	for i, l := range inv.Layers {
		layerNo[l.DiffID] = i
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tTYPE\tSOURCE\tLAYER\tLOCATION")
	for _, c := range inv.Components {
		src := ""
		if c.Ecosystem.IsOS() && (c.Source.Name != c.Name || c.Source.Version != c.Version) {
			src = c.Source.Name
			if c.Source.Version != c.Version {
				src += " " + c.Source.Version
			}
		}
		layer := ""
		if n, ok := layerNo[c.Layer]; ok {
			layer = fmt.Sprint(n)
		}
		loc := ""
		if len(c.Locations) > 0 {
			loc = c.Locations[0]
			if len(c.Locations) > 1 {
				loc += fmt.Sprintf(" (+%d)", len(c.Locations)-1)
			}
		}
		eco := string(c.Ecosystem)
		if eco == "" {
			eco = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Version, eco, src, layer, loc)
	}
	tw.Flush()
	if n := len(inv.Diagnostics); n > 0 {
		fmt.Fprintf(w, "\nIncomplete: %d problem(s)\n", n)
		for _, d := range inv.Diagnostics {
			fmt.Fprintf(w, "  %s: %s: %s\n", d.Source, strings.TrimSpace(d.Path), d.Message)
		}
	}
}
