package sbom

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/stellaops/stellaops/internal/inventory"
)

// EncodeOptions configure the encoders.
type EncodeOptions struct {
	// ToolVersion is the stellaops version recorded as the tool that wrote the document.
	ToolVersion string
	// Now gives the document's creation time. Nil means the Unix epoch
	// (1970-01-01T00:00:00Z), so that output depends on the inventory alone.
	Now func() time.Time
}

// toolName is the producing tool recorded in every document.
const toolName = "stellaops"

// Encode writes inv in format f: CycloneDX 1.6 (JSON or XML) or SPDX 2.3 (JSON or tag-value).
// The same inventory and options always give the same bytes: components keep the inventory
// order, identifiers (serial number, document namespace, bom-refs, SPDX IDs) are derived from
// content, and the only time written is opts.Now(). inv is not modified.
func Encode(ctx context.Context, w io.Writer, inv *inventory.Inventory, f Format, opts EncodeOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if inv == nil {
		return fmt.Errorf("encoding %s: no inventory", f)
	}
	e := newEncoding(inv, opts)
	var err error
	switch f {
	case FormatCycloneDXJSON, FormatCycloneDXXML:
		err = e.writeCycloneDX(w, f == FormatCycloneDXXML)
	case FormatSPDXJSON, FormatSPDXTagValue:
		err = e.writeSPDX(w, f == FormatSPDXTagValue)
	default:
		return fmt.Errorf("encoding: format %q cannot be written (want cyclonedx-json, cyclonedx-xml, spdx-json or spdx-tag-value)", f)
	}
	if err != nil {
		return fmt.Errorf("encoding %s: %w", f, err)
	}
	return nil
}

// encoding is the state shared by the CycloneDX and SPDX writers for one document.
type encoding struct {
	inv  *inventory.Inventory
	opts EncodeOptions
	now  time.Time
	// id is a UUID (version 5) derived from the canonical JSON of the inventory.
	id uuid.UUID
}

func newEncoding(inv *inventory.Inventory, opts EncodeOptions) *encoding {
	c := cloneInventory(inv)
	c.Finalize()
	canonical, _ := json.Marshal(c) // plain structs of strings: cannot fail
	sum := sha256.Sum256(canonical)
	now := time.Unix(0, 0)
	if opts.Now != nil {
		now = opts.Now()
	}
	return &encoding{inv: c, opts: opts, now: now.UTC(), id: uuid.NewSHA1(uuid.NameSpaceOID, sum[:])}
}

// cloneInventory copies inv deeply enough that finalising the copy leaves inv untouched.
func cloneInventory(inv *inventory.Inventory) *inventory.Inventory {
	c := *inv
	c.Layers = slices.Clone(inv.Layers)
	c.Diagnostics = slices.Clone(inv.Diagnostics)
	c.Components = slices.Clone(inv.Components)
	for i := range c.Components {
		cc := &c.Components[i]
		cc.Locations = slices.Clone(cc.Locations)
		cc.Licenses = slices.Clone(cc.Licenses)
		cc.Hashes = slices.Clone(cc.Hashes)
		cc.CPEs = slices.Clone(cc.CPEs)
	}
	return &c
}

// componentProps are the stellaops:* properties that carry what a component's purl does not.
func (e *encoding) componentProps(c *inventory.Component, extraCPEs []string, extraHashes []inventory.Hash) []prop {
	var ps []prop
	if c.Source.Name != "" {
		ps = append(ps, prop{propSourceName, c.Source.Name})
		if c.Source.Version != "" {
			ps = append(ps, prop{propSourceVersion, c.Source.Version})
		}
	}
	if c.Ecosystem.IsOS() && !c.Distro.IsZero() && !sameRelease(c.Distro, e.inv.Distro) {
		ps = append(ps, prop{propDistro, c.Distro.String()})
	}
	if c.Layer != "" {
		ps = append(ps, prop{propLayer, c.Layer})
	}
	for _, l := range c.Locations {
		ps = append(ps, prop{propLocation, l})
	}
	if c.Direct {
		ps = append(ps, prop{propDirect, "true"})
	}
	for _, cpe := range extraCPEs {
		ps = append(ps, prop{propCPE, cpe})
	}
	for _, h := range extraHashes {
		ps = append(ps, prop{propHash, h.Algorithm + ":" + h.Value})
	}
	return ps
}

func sameRelease(a, b inventory.Distro) bool {
	return a.ID == b.ID && a.VersionID == b.VersionID && a.Codename == b.Codename
}

// targetProps describe the image layers on the document's subject.
func (e *encoding) targetProps() []prop {
	var ps []prop
	for i, l := range e.inv.Layers {
		base := propTargetLayerBase + strconv.Itoa(i) + ":"
		ps = append(ps, prop{base + "diffID", l.DiffID})
		if l.Digest != "" {
			ps = append(ps, prop{base + "digest", l.Digest})
		}
		if l.Size != 0 {
			ps = append(ps, prop{base + "size", strconv.FormatInt(l.Size, 10)})
		}
		if l.CreatedBy != "" {
			ps = append(ps, prop{base + "createdBy", l.CreatedBy})
		}
	}
	return ps
}

// distroProps describe the operating system beyond its name and version.
func (e *encoding) distroProps() []prop {
	var ps []prop
	if d := e.inv.Distro; d.Codename != "" {
		ps = append(ps, prop{propDistroCodename, d.Codename})
	}
	if d := e.inv.Distro; d.PrettyName != "" {
		ps = append(ps, prop{propDistroPretty, d.PrettyName})
	}
	return ps
}

// targetName names the document's subject.
func (e *encoding) targetName() string {
	if e.inv.Target.Name != "" {
		return e.inv.Target.Name
	}
	return "unnamed " + string(cmpOr(e.inv.Target.Kind, "target"))
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// uniqueRef returns ref, or ref with "#N" appended when it is already taken.
func uniqueRef(seen map[string]bool, ref string) string {
	out := ref
	for n := 2; seen[out]; n++ {
		out = ref + "#" + strconv.Itoa(n)
	}
	seen[out] = true
	return out
}
