package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stellaops/stellaops/internal/inventory"
)

const ociRefName = "org.opencontainers.image.ref.name"

// openOCILayout reads an OCI image layout (index.json, blobs/<alg>/<hex>) from a directory or a
// tar, choosing a manifest by ref-name tag and by platform through nested indexes.
func openOCILayout(_ context.Context, st store, layoutName string, opts Options) (*Image, error) {
	raw, err := readSmall(st, "index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("oci layout: index.json: %w", err)
	}
	desc, err := pickOCIDescriptor(idx, opts.Tag)
	if err != nil {
		return nil, err
	}
	plat, err := opts.platform()
	if err != nil {
		return nil, err
	}
	for depth := 0; desc.MediaType.IsIndex(); depth++ {
		if depth > 4 {
			return nil, fmt.Errorf("oci layout: image indexes nested too deeply")
		}
		b, err := readBlob(st, desc.Digest)
		if err != nil {
			return nil, err
		}
		child, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("oci layout: index %s: %w", desc.Digest, err)
		}
		if desc, err = pickPlatform(child, plat); err != nil {
			return nil, err
		}
	}
	mraw, err := readBlob(st, desc.Digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(mraw))
	if err != nil {
		return nil, fmt.Errorf("oci layout: manifest %s: %w", desc.Digest, err)
	}
	craw, err := readBlob(st, m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(craw))
	if err != nil {
		return nil, fmt.Errorf("oci layout: config %s: %w", m.Config.Digest, err)
	}
	layers, err := layersFromConfig(cfg, len(m.Layers))
	if err != nil {
		return nil, fmt.Errorf("oci layout: %w", err)
	}
	blobs := make([]func(context.Context) (io.ReadCloser, error), len(m.Layers))
	for i, l := range m.Layers {
		name := blobPath(l.Digest)
		if !st.exists(name) {
			return nil, fmt.Errorf("oci layout: layer blob %s is missing (foreign or not pulled)", l.Digest)
		}
		layers[i].Digest, layers[i].Size = l.Digest.String(), l.Size
		blobs[i] = func(context.Context) (io.ReadCloser, error) { return st.open(name) }
	}
	tgt := inventory.Target{
		Kind: inventory.TargetImage, Name: layoutName, Digest: desc.Digest.String(),
		ImageID: m.Config.Digest.String(), Format: "oci-layout", Platform: platformString(cfg),
	}
	if opts.Tag != "" {
		tgt.Name = layoutName + ":" + opts.Tag
	}
	return &Image{Target: tgt, Config: cfg, Layers: layers, blobs: blobs, limits: opts.Limits, close: st.close}, nil
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// readBlob reads a small blob and checks its digest, so a tampered manifest or config is caught.
func readBlob(st store, h v1.Hash) ([]byte, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return nil, fmt.Errorf("oci layout: unsupported digest %s", h)
	}
	b, err := readSmall(st, blobPath(h))
	if err != nil {
		return nil, fmt.Errorf("oci layout: %w", err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != h.Hex {
		return nil, fmt.Errorf("oci layout: blob %s does not match its digest", h)
	}
	return b, nil
}

// pickOCIDescriptor chooses a top-level entry of index.json by its ref name, or the only one.
func pickOCIDescriptor(idx *v1.IndexManifest, tag string) (v1.Descriptor, error) {
	if len(idx.Manifests) == 0 {
		return v1.Descriptor{}, fmt.Errorf("oci layout: index.json lists no manifest")
	}
	if tag == "" {
		if len(idx.Manifests) == 1 {
			return idx.Manifests[0], nil
		}
		return v1.Descriptor{}, fmt.Errorf("oci layout holds %d manifests (%s): choose one by tag",
			len(idx.Manifests), strings.Join(refNames(idx), ", "))
	}
	for _, d := range idx.Manifests {
		ref := d.Annotations[ociRefName]
		if ref == tag || strings.HasSuffix(tag, ":"+ref) || strings.HasSuffix(ref, ":"+tag) {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("oci layout has no manifest named %s (it has: %s)", tag,
		strings.Join(refNames(idx), ", "))
}

func refNames(idx *v1.IndexManifest) []string {
	var out []string
	for _, d := range idx.Manifests {
		if r := d.Annotations[ociRefName]; r != "" {
			out = append(out, r)
		} else {
			out = append(out, d.Digest.String())
		}
	}
	return out
}

// pickPlatform chooses the manifest for plat from a multi-platform index.
func pickPlatform(idx *v1.IndexManifest, plat v1.Platform) (v1.Descriptor, error) {
	var seen []string
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		seen = append(seen, d.Platform.String())
		if d.Platform.Satisfies(plat) && (d.MediaType.IsImage() || d.MediaType == types.OCIManifestSchema1) {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s (available: %s)", plat.String(),
		strings.Join(seen, ", "))
}
