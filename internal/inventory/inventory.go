package inventory

import (
	"cmp"
	"slices"
)

// TargetKind says what an inventory was taken from.
type TargetKind string

// Target kinds.
const (
	TargetImage  TargetKind = "image"
	TargetRootfs TargetKind = "rootfs"
	TargetSBOM   TargetKind = "sbom"
)

// Target describes what was inventoried.
type Target struct {
	Kind TargetKind `json:"kind"`
	// Name is what the user gave: an image reference or tag, a directory, a file name.
	Name string `json:"name,omitempty"`
	// Digest identifies the content: the image manifest digest, or the sha256 of an SBOM document.
	Digest string `json:"digest,omitempty"`
	// ImageID is the image config digest, for images.
	ImageID string `json:"imageId,omitempty"`
	// Format names the input format for SBOMs (cyclonedx-json, spdx-json, …) and images
	// (docker-archive, oci-layout, registry).
	Format string `json:"format,omitempty"`
	// Platform is "os/arch[/variant]" for images.
	Platform string `json:"platform,omitempty"`
}

// Layer is one image layer, base first.
type Layer struct {
	// Digest is the digest of the layer blob as stored (usually compressed).
	Digest string `json:"digest,omitempty"`
	// DiffID is the sha256 of the uncompressed layer tar; it keys the layer cache and
	// Component.Layer.
	DiffID string `json:"diffId"`
	// Size is the stored size in bytes.
	Size int64 `json:"size,omitempty"`
	// CreatedBy is the history command that produced the layer, where known.
	CreatedBy string `json:"createdBy,omitempty"`
}

// Diagnostic records a problem that made an inventory incomplete: a package database that could not
// be parsed, a file over a size limit. The scan goes on; the diagnostic travels with the result so a
// partial inventory is never presented as whole.
type Diagnostic struct {
	// Analyzer or decoder that reported it.
	Source string `json:"source"`
	// Path of the file concerned, if any.
	Path string `json:"path,omitempty"`
	// Layer diff ID concerned, if any.
	Layer   string `json:"layer,omitempty"`
	Message string `json:"message"`
}

// Inventory is everything found in one target, sorted and de-duplicated.
type Inventory struct {
	Target Target `json:"target"`
	// Distro is the operating system of the target, from os-release or from the SBOM.
	Distro      Distro       `json:"distro,omitzero"`
	Layers      []Layer      `json:"layers,omitempty"`
	Components  []Component  `json:"components"`
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
}

// Complete reports whether every analyzer or decoder finished without a problem.
func (inv *Inventory) Complete() bool { return len(inv.Diagnostics) == 0 }

// Finalize normalises every component, merges duplicates (same Key), and sorts components and
// diagnostics into their total order. Call it once before an inventory leaves the process.
func (inv *Inventory) Finalize() {
	inv.Components = Dedupe(inv.Components)
	slices.SortFunc(inv.Diagnostics, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Layer, b.Layer), cmp.Compare(a.Message, b.Message))
	})
	inv.Diagnostics = slices.Compact(inv.Diagnostics)
}

// Dedupe normalises the components, merges those with the same Key (uniting locations, licences,
// hashes; keeping the first layer seen), and returns them sorted by Compare.
func Dedupe(cs []Component) []Component {
	if len(cs) == 0 {
		return []Component{}
	}
	for i := range cs {
		cs[i].Normalize()
	}
	// Sort by key first so duplicates are adjacent, keeping input order among equals so the
	// earliest occurrence (lowest layer) wins.
	keys := make([]string, len(cs))
	idx := make([]int, len(cs))
	for i := range cs {
		keys[i] = cs[i].Key()
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	out := make([]Component, 0, len(cs))
	for n, i := range idx {
		if n > 0 && keys[i] == keys[idx[n-1]] {
			out[len(out)-1].merge(&cs[i])
			continue
		}
		out = append(out, cs[i])
	}
	slices.SortFunc(out, func(a, b Component) int { return Compare(&a, &b) })
	return out
}
