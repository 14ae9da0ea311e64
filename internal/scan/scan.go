// Package scan runs one scan in process: it inventories a target (internal/target), matches the
// inventory against an advisory snapshot (internal/match) and returns the result that every output
// format and the API serialise. It also seeds an empty snapshot store from the bundled data, so a
// fresh install scans offline at once.
//
// It owns no format and no storage; it is the wiring the CLI's self runner and the worker share.
package scan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/inventory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/target"
)

// SchemaVersion names the result document format.
const SchemaVersion = "stellaops.scan-result/v1"

// SnapshotRef identifies the advisory data a result was computed against.
type SnapshotRef struct {
	Digest    string                `json:"digest"`
	CreatedAt time.Time             `json:"createdAt"`
	Sources   []snapshot.SourceInfo `json:"sources,omitempty"`
}

// Result is one scan's outcome. It is deterministic: the same target and snapshot give the same
// bytes (timing lives in the runner's metadata, not here).
type Result struct {
	SchemaVersion string               `json:"schemaVersion"`
	Target        inventory.Target     `json:"target"`
	Distro        inventory.Distro     `json:"distro,omitzero"`
	Snapshot      SnapshotRef          `json:"snapshot"`
	Summary       match.Summary        `json:"summary"`
	Findings      []match.Finding      `json:"findings"`
	Notes         []string             `json:"notes,omitempty"`
	Inventory     *inventory.Inventory `json:"inventory"`
}

// Run scans arg (image archive, OCI layout, registry reference, directory or SBOM) against snap.
func Run(ctx context.Context, arg string, snap *snapshot.Snapshot, topts target.Options, mcfg match.Config) (*Result, error) {
	t, err := target.Inventory(ctx, arg, topts)
	if err != nil {
		return nil, err
	}
	return MatchInventory(ctx, t.Inventory, snap, mcfg)
}

// MatchInventory matches an inventory already taken (an uploaded SBOM, a cached image inventory).
func MatchInventory(ctx context.Context, inv *inventory.Inventory, snap *snapshot.Snapshot, mcfg match.Config) (*Result, error) {
	m, err := match.Match(ctx, snap, inv, mcfg)
	if err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	meta := snap.Meta()
	res := &Result{
		SchemaVersion: SchemaVersion,
		Target:        inv.Target,
		Distro:        inv.Distro,
		Snapshot:      SnapshotRef{Digest: meta.Digest, CreatedAt: meta.CreatedAt, Sources: meta.Sources},
		Summary:       m.Summary,
		Findings:      m.Findings,
		Notes:         m.Notes,
		Inventory:     inv,
	}
	if n := len(inv.Diagnostics); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("inventory incomplete: %d problem(s) reading the target", n))
	}
	return res, nil
}

// EnsureSnapshot opens the store's current snapshot, first building one from the bundled OSV data
// when the store has none (stamped with the data's collection time, so every install gets the
// same snapshot). seeded reports whether it did.
func EnsureSnapshot(ctx context.Context, st *snapshot.Store) (snap *snapshot.Snapshot, seeded bool, err error) {
	snap, err = st.Current()
	if err == nil || !errors.Is(err, snapshot.ErrNoSnapshot) {
		return snap, false, err
	}
	var all []*advisory.Advisory
	var sources []snapshot.SourceInfo
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(ctx, src.Name, bundled.OSV(), src.Path)
		if err != nil {
			return nil, false, fmt.Errorf("bundled advisories: %w", err)
		}
		all = append(all, res.Advisories...)
		sources = append(sources, snapshot.SourceInfo{Name: src.Name, Documents: res.Documents,
			Advisories: len(res.Advisories), Errors: len(res.Errors)})
	}
	if _, err := st.Publish(ctx, all, sources, bundled.CollectedAt); err != nil {
		return nil, false, err
	}
	snap, err = st.Current()
	return snap, true, err
}
